"""Adapters for agents that already live elsewhere: an MCP server (`hyperloom mcp`) and a LangGraph store
(`HyperloomStore`), both thin layers over the `Agent` API.

Imported lazily: `from hyperloom.integrations.langgraph_store import HyperloomStore` pulls in LangGraph,
`hyperloom.integrations.mcp_server` the MCP SDK; this package itself imports neither.
"""
