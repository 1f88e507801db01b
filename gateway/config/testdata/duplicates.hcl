gateway {
  log_level = "info"
}

gateway {
  log_level = "debug"
}

endpoint "test-crm" "crm" {
  url           = "https://org.example.com"
  client_secret = env("SYNCGATE_TEST_SECRET")
}

endpoint "test-crm" "crm" {
  url           = "https://other.example.com"
  client_secret = env("SYNCGATE_TEST_SECRET")
}

endpoint "test-mailbox" "mail/eu" {
  tenant_id     = "contoso"
  client_id     = "app"
  client_secret = env("SYNCGATE_TEST_SECRET")
}

binding "alice" {
  mailbox  = "alice@example.com"
  crm_user = "alice@example.com"
}

binding "alice" {
  mailbox  = "alice2@example.com"
  crm_user = "alice2@example.com"
}

policy "contact" {
  conflict = "crm_wins"

  operation "update" {
    direction = "bidirectional"
  }

  operation "update" {
    direction = "none"
  }

  field "notes" {
    direction = "crm_to_mailbox"
  }

  field "notes" {
    direction = "none"
  }

  tracking {
    mode = "all"
  }

  tracking {
    mode = "none"
  }
}

policy "contact" {
  conflict = "mailbox_wins"
}
