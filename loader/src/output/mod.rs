//! Histogram and counter rendering (scaffold).
