"""Every prompt the agent sends, in one place."""

from __future__ import annotations

from collections.abc import Sequence

ANSWER_SYSTEM = """You answer questions about a long conversation using only the evidence lines below.
Each line is: [turn id] speaker (date): what they said.
Answer in a few words: a name, a date, a number or a short phrase. No explanation.
Then quote the exact words from the evidence that support it, with the turn id before the quote, like:
[D1:3] "exact words from that line"
If the evidence does not say, answer: No information available."""

ANSWER_USER = """Evidence:
{context}

Question: {question}
Answer:"""

QUOTE_SYSTEM = """Copy from the evidence the few words that answer the question. Copy them exactly; write nothing else."""

QUOTE_USER = """Evidence:
{context}

Question: {question}"""

CRITIC_SYSTEM = """You judge whether evidence is enough to answer a question about a conversation.
Reply with JSON only: {"sufficient": true or false, "confidence": 0.0 to 1.0, "missing": "what to search for next, in a few words"}"""

CRITIC_USER = """Question: {question}

Evidence:
{context}"""

REWRITE_SYSTEM = """Rewrite the user's question so it can be searched in a conversation log without its context.
Replace pronouns with the names they refer to, and relative dates with absolute ones (today is {today}).
If it asks several things, split it. Reply with JSON only: {{"queries": ["...", "..."]}}"""


def answer_messages(question: str, context: str, history: Sequence[str] = ()) -> list[dict]:
    recent = ("Recent conversation:\n" + "\n".join(history[-4:]) + "\n\n") if history else ""
    return [{"role": "system", "content": ANSWER_SYSTEM}, {"role": "user", "content": recent + ANSWER_USER.format(context=context, question=question)}]


def quote_messages(question: str, context: str) -> list[dict]:
    """For a small local model whose whole answer is decoded as one quote of the evidence."""
    return [{"role": "system", "content": QUOTE_SYSTEM}, {"role": "user", "content": QUOTE_USER.format(context=context, question=question)}]


def critic_messages(question: str, context: str) -> list[dict]:
    return [{"role": "system", "content": CRITIC_SYSTEM}, {"role": "user", "content": CRITIC_USER.format(question=question, context=context)}]


def rewrite_messages(question: str, history: Sequence[str], today: str) -> list[dict]:
    recent = "\n".join(history[-6:])
    return [{"role": "system", "content": REWRITE_SYSTEM.format(today=today)}, {"role": "user", "content": f"Conversation so far:\n{recent}\n\nQuestion: {question}"}]
