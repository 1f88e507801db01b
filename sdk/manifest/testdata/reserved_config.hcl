name    = "test"
version = "1.0.0"
kind    = "mailbox"

config {
  attribute "poll_interval" {
    type    = "string"
    default = "10s"
  }
}
