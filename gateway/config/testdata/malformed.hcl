endpoint "test-crm" "crm" {
  url = "https://org.example.com
}
