# A valid configuration: secrets come from the environment and from files.
gateway {
  data_dir   = "data"
  plugin_dir = "manifests"
  log_level  = "debug"
}

endpoint "test-mailbox" "mail" {
  tenant_id     = "contoso"
  client_id     = "app"
  client_secret = env("SYNCGATE_TEST_SECRET")
  poll_interval = "15s"
}

endpoint "test-crm" "crm" {
  url           = "https://org.example.com"
  client_secret = file("secrets/crm.txt")
}

binding "alice" {
  mailbox  = "alice@example.com"
  crm_user = "alice@example.com"
}

policy "service_appointment" {
  direction  = "crm_to_mailbox"
  on_blocked = "revert"
}
