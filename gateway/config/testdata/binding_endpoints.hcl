endpoint "test-mailbox" "mail" {
  tenant_id     = "contoso"
  client_id     = "app"
  client_secret = env("SYNCGATE_TEST_SECRET")
}

endpoint "test-mailbox" "mail2" {
  tenant_id     = "fabrikam"
  client_id     = "app"
  client_secret = env("SYNCGATE_TEST_SECRET")
}

endpoint "test-crm" "crm" {
  url           = "https://org.example.com"
  client_secret = env("SYNCGATE_TEST_SECRET")
}

binding "alice" {
  mailbox          = "alice@example.com"
  crm_user         = "alice@example.com"
  mailbox_endpoint = "mial"
  crm_endpoint     = "mail"
}

binding "bob" {
  mailbox  = "bob@example.com"
  crm_user = "bob@example.com"
}

binding "carol" {
  mailbox          = "carol@example.com"
  crm_user         = "carol@example.com"
  mailbox_endpoint = "mail"
}

binding "carol2" {
  mailbox          = "Carol@Example.com"
  crm_user         = "carol2@example.com"
  mailbox_endpoint = "mail"
}

binding "dave" {
  crm_user = "dave@example.com"
}
