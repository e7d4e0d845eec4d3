"""Security primitives: password hashing, tokens and secrets, credential encryption."""
