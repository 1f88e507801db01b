endpoint "test-mailbox" "mail" {
  client_id = "app"
}
