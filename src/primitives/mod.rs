//! primitives (being built)
