name     = "test"
version  = "1.0.0"
kind     = "crm"
protocol = [1, 2.5, 0]
