//! The hasura/ metadata folder: every YAML parses, every !include resolves, actions.graphql parses, and every
//! tracked table and column exists in the migrated schema.
