name    = "test"
version = "1.0.0"
