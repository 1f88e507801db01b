// Command dirctl changes a directory connector's folder the way a user of
// the backend would, so that the example setup can be tried by hand:
//
//	dirctl -dir bin/data/dir/crm list
//	dirctl -dir bin/data/dir/crm create -scope alice@example.com -entity contact surname=Lovelace given_name=Ada
//	dirctl -dir bin/data/dir/mailboxes update -scope alice@example.com -entity contact -id ID job_title=Analyst
//	dirctl -dir bin/data/dir/crm delete -entity contact -id ID
//
// Field values are strings; "categories" takes a comma-separated list.
package main

import (
	"flag"
	"fmt"
	"os"
	"strings"

	"github.com/syncgate/syncgate/examples/dirconnector"
	"github.com/syncgate/syncgate/sdk"
)

func main() {
	dir := flag.String("dir", "", "the connector's folder (its dir setting)")
	flag.Usage = func() {
		fmt.Fprintln(os.Stderr, "usage: dirctl -dir FOLDER list|create|update|delete [-scope S] [-entity E] [-id ID] [field=value ...]")
		flag.PrintDefaults()
	}
	flag.Parse()
	if *dir == "" || flag.NArg() == 0 {
		flag.Usage()
		os.Exit(2)
	}
	sub := flag.NewFlagSet(flag.Arg(0), flag.ExitOnError)
	scope := sub.String("scope", "", "the mailbox or CRM user (list: all when empty)")
	entity := sub.String("entity", "contact", "contact, appointment, task or service_appointment")
	id := sub.String("id", "", "the item's id (update, delete)")
	sub.Parse(flag.Args()[1:])
	s, err := dirconnector.Open(*dir)
	if err != nil {
		fail(err)
	}
	fields := sdk.Fields{}
	for _, kv := range sub.Args() {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			fail(fmt.Errorf("%q is not field=value", kv))
		}
		fields[k] = sdk.String(v)
		if k == "categories" {
			fields[k] = sdk.Strings(strings.Split(v, ",")...)
		}
	}
	switch flag.Arg(0) {
	case "list":
		items, err := s.List(*scope, *entity)
		if err != nil {
			fail(err)
		}
		for _, it := range items {
			fmt.Printf("%s  v%s  %s  %v\n", it.ID, it.Version, it.Owner, it.Fields)
		}
	case "create":
		it, err := s.Create(*scope, *entity, "", fields)
		if err != nil {
			fail(err)
		}
		fmt.Println(it.ID)
	case "update":
		old, err := s.Get(*scope, *entity, *id)
		if err != nil {
			fail(err)
		}
		merged := old.Fields.Clone()
		for k, v := range fields {
			merged[k] = v
		}
		it, err := s.Update(*scope, *entity, *id, old.Version, merged)
		if err != nil {
			fail(err)
		}
		fmt.Printf("%s now at version %s\n", it.ID, it.Version)
	case "delete":
		if err := s.Delete(*scope, *entity, *id, ""); err != nil {
			fail(err)
		}
	default:
		flag.Usage()
		os.Exit(2)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "dirctl:", err)
	os.Exit(1)
}
