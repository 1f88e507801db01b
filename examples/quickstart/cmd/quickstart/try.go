package main

import (
	"fmt"
	"net/url"
	"path/filepath"
	"strings"

	"github.com/syncgate/syncgate/gateway/admin"
)

// afterSync is what the quick start prints once the initial sync is done:
// the web page, the token, and commands to paste that change an item on
// one side and read it on the other (the README shows the same).
func (q *quickstart) afterSync(token string) string {
	s := q.setup
	var b strings.Builder
	fmt.Fprintf(&b, "\nweb page:    http://%s/#token=%s\n", s.AdminListen, token)
	fmt.Fprintf(&b, "admin token: %s\n", filepath.Join(s.DataDir, admin.TokenFile))
	fmt.Fprintf(&b, "logs:        %s\n\n", s.logDir())
	b.WriteString("Try it in another terminal: change an item through one emulator's API and watch it arrive on the other side.\n\n")
	b.WriteString(tryCommands(s))
	b.WriteString("\nsyncgate keeps syncing; press Ctrl-C to stop it and both emulators.\n")
	return b.String()
}

// tryCommands are shell commands for the first user: get a token from
// each emulator, create a contact in the mailbox and read it in the CRM,
// then edit it in the CRM and read it in the mailbox.
func tryCommands(s *setup) string {
	u := s.Users[0]
	graph := strings.TrimRight(s.Graph.APIURL, "/")
	crm := strings.TrimRight(s.CRM.APIURL, "/")
	token := func(b backend) string {
		return fmt.Sprintf("curl -s %s -d grant_type=client_credentials -d client_id=%s -d client_secret=%s -d scope=%s | sed 's/.*\"access_token\":\"\\([^\"]*\\)\".*/\\1/'",
			b.TokenURL, url.QueryEscape(b.ClientID), url.QueryEscape(b.ClientSecret), url.QueryEscape(b.Scope))
	}
	lines := []string{
		"# a token from each emulator (their demo credentials are in " + s.ConfigPath + ")",
		"GRAPH=$(" + token(s.Graph) + ")",
		"CRM=$(" + token(s.CRM) + ")",
		"",
		"# 1. a new contact in " + u.Mailbox + "'s mailbox ...",
		fmt.Sprintf("curl -s -X POST %s/users/%s/contacts -H \"Authorization: Bearer $GRAPH\" -H 'Content-Type: application/json' \\\n"+
			"  -d '{\"givenName\":\"Marie\",\"surname\":\"Curie\",\"emailAddresses\":[{\"address\":\"marie.curie@example.com\"}]}' >/dev/null", graph, u.Mailbox),
		"# ... is in the CRM a few seconds later, owned by " + u.CRMUser,
		fmt.Sprintf("curl -s -H \"Authorization: Bearer $CRM\" \"%s/contacts?\\$select=fullname,jobtitle,_ownerid_value&\\$filter=emailaddress1%%20eq%%20'marie.curie@example.com'\"", crm),
		"",
		"# 2. a new job title in the CRM ...",
		fmt.Sprintf("ID=$(curl -s -H \"Authorization: Bearer $CRM\" \"%s/contacts?\\$select=contactid&\\$filter=emailaddress1%%20eq%%20'marie.curie@example.com'\" | sed 's/.*\"contactid\":\"\\([^\"]*\\)\".*/\\1/')", crm),
		fmt.Sprintf("curl -s -X PATCH \"%s/contacts($ID)\" -H \"Authorization: Bearer $CRM\" -H 'Content-Type: application/json' -d '{\"jobtitle\":\"Physicist\"}'", crm),
		"# ... is in the mailbox a few seconds later",
		fmt.Sprintf("curl -s -H \"Authorization: Bearer $GRAPH\" \"%s/users/%s/contacts?\\$select=displayName,jobTitle&\\$top=1000\" | grep -o '\"displayName\":\"Marie Curie\"[^}]*'", graph, u.Mailbox),
	}
	return strings.Join(lines, "\n") + "\n"
}
