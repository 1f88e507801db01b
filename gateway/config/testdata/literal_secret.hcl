endpoint "test-crm" "crm" {
  url           = "https://org.example.com"
  client_secret = "hunter2"
}
