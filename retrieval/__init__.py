"""How it is found: embeddings, vector and BM25 indexes, hybrid search, verbatim spans."""
