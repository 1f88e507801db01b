endpoint "test-mailbox" "mail" {
  tenant_id     = "contoso"
  client_id     = "app"
  client_secret = env("SYNCGATE_TEST_SECRET")
}

endpoint "test-crm" "crm" {
  url           = "https://org.example.com"
  client_secret = env("SYNCGATE_TEST_SECRET")
}

policy "service_appointment" {
  direction = "bidirectional"

  operation "create" {
    direction = "mailbox_to_crm"
  }
}

policy "contact" {
  field "notes" {
    direction = "bidirectional"
  }
}

policy "task" {
  operation "delete" {
    direction = "bidirectional"
  }
}

policy "appointment" {
  field "categories" {
    direction = "crm_to_mailbox"
  }
}

policy "email" {
  direction = "mailbox_to_crm"

  operation "delete" {
    direction = "none"
  }
}
