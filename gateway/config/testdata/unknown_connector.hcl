endpoint "test-crn" "crm" {
  url = "https://org.example.com"
}

endpoint "exchange" "mail" {
  tenant_id = "contoso"
}

binding "alice" {
  mailbox          = "alice@example.com"
  crm_user         = "alice@example.com"
  mailbox_endpoint = "mail"
}
