name       = "test"
version    = "1.0.0"
kind       = "mailbox"
descripton = "A typo that hcl knows how to fix."
verison    = "1.0.1"

entity "contact" {
  operations = ["create"]
  feeds      = "scope"

  direction {
    allowed = "bidirectional"
    reason  = "Contacts move both ways."
  }
}
