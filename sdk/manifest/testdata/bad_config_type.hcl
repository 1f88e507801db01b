name    = "test"
version = "1.0.0"
kind    = "mailbox"

config {
  attribute "port" {
    type = "integer"
  }
  attribute "scopes" {
    type    = "list(string)"
    default = "one"
  }
  attribute "tenant" {
    type     = "string"
    required = true
    default  = "contoso"
  }
}
