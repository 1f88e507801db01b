endpoint "test-mailbox" "mail" {
  tenant_id     = "contoso"
  client_id     = "app"
  client_secret = env("SYNCGATE_TEST_SECRET")
}

policy "email" {
  conflict = "crm_wins"
}

policy "contact" {
  conflict = "crm_wins"
}
