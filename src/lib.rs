//! gradc facade
