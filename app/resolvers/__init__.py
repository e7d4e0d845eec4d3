"""Use cases per domain: GraphQL-agnostic async functions over a tenant scope."""
