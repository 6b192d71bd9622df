"""How it thinks: the LangGraph loop, the critic and the LLM door (see the agent issue)."""
