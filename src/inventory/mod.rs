//! inventory (being built)
