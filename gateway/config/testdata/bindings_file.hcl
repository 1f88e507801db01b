# Bindings from a CSV file, with bad rows: each problem is reported at its
# place in the CSV.
gateway {
  bindings_file = "bindings.csv"
}

endpoint "test-mailbox" "mail" {
  tenant_id     = "contoso"
  client_id     = "app"
  client_secret = env("SYNCGATE_TEST_SECRET")
}

endpoint "test-crm" "crm" {
  url           = "https://org.example.com"
  client_secret = file("secrets/crm.txt")
}

binding "alice" {
  mailbox  = "alice@example.com"
  crm_user = "alice@example.com"
}
