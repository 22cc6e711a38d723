//! lint (being built)
