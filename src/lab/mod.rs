//! lab (being built)
