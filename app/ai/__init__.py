"""The AI layer: providers (the OpenAI client, the offline analyst), prompts, citation
checks, and retrieval over product documentation. The platform computes every number; the
model writes the words around them and cites its evidence, which is verified here."""
