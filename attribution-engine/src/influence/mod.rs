//! Gradient influence for specialised models (issue 5).
