endpoint "test-crm" "crm" {
  url           = "https://org.example.com"
  client_secret = env("SYNCGATE_TEST_UNSET")
}
