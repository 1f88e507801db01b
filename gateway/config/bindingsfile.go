package config

import (
	"encoding/csv"
	"errors"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

// bindingColumns are the columns a bindings file may have, in any order;
// name, mailbox and crm_user are required.
var bindingColumns = []string{"name", "mailbox", "crm_user", "mailbox_endpoint", "crm_endpoint"}

// bindingsFile reads bindings from a CSV file (gateway { bindings_file }),
// for the thousands of bindings nobody writes blocks for. Its first line
// names the columns. Each cell becomes an attribute whose range is its place
// in the file, so every check that applies to a binding block reports a
// bad row at file:line:column.
func (p *parser) bindingsFile(path string, from hcl.Range) {
	f, err := os.Open(path)
	if err != nil {
		p.errorf(&from, "Cannot read bindings_file", "%v.", err)
		return
	}
	defer f.Close()
	r := csv.NewReader(f)
	r.FieldsPerRecord = -1
	r.TrimLeadingSpace = true
	r.Comment = '#'
	header, err := r.Read()
	if err != nil {
		p.errorf(&from, "Empty bindings_file", "%s has no header line: its first line names the columns, e.g. name,mailbox,crm_user.", path)
		return
	}
	col := map[string]int{}
	for i, h := range header {
		h = strings.TrimSpace(h)
		if !slices.Contains(bindingColumns, h) {
			line, column := r.FieldPos(i)
			rng := cellRange(path, line, column, h)
			p.errorf(&rng, "Unknown column", "%q is not a binding column: use %s.%s", h, strings.Join(bindingColumns, ", "), suggest(h, bindingColumns))
			continue
		}
		col[h] = i
	}
	for _, need := range []string{"name", "mailbox", "crm_user"} {
		if _, ok := col[need]; !ok {
			line, _ := r.FieldPos(0)
			rng := cellRange(path, line, 1, "")
			p.errorf(&rng, "Missing column", "%s needs a %q column.", path, need)
			return
		}
	}
	for {
		rec, err := r.Read()
		if errors.Is(err, io.EOF) {
			return
		}
		var perr *csv.ParseError
		if errors.As(err, &perr) {
			rng := cellRange(path, perr.Line, perr.Column, "")
			p.errorf(&rng, "Malformed bindings_file", "%v.", perr.Err)
			return
		}
		if err != nil {
			p.errorf(&from, "Cannot read bindings_file", "%v.", err)
			return
		}
		line, _ := r.FieldPos(0)
		row := cellRange(path, line, 1, strings.Join(rec, ","))
		bd := &Binding{Range: row, attrs: hcl.Attributes{}}
		for name, i := range col {
			if i >= len(rec) || strings.TrimSpace(rec[i]) == "" {
				if name == "name" || name == "mailbox" || name == "crm_user" {
					p.errorf(&row, "Missing "+name, "This binding has no %s.", name)
				}
				continue
			}
			v := strings.TrimSpace(rec[i])
			l, c := r.FieldPos(i)
			rng := cellRange(path, l, c, v)
			bd.attrs[name] = &hcl.Attribute{Name: name, Expr: hcl.StaticExpr(cty.StringVal(v), rng), Range: rng, NameRange: rng}
			switch name {
			case "name":
				bd.Name, bd.nameRange = v, rng
			case "mailbox":
				bd.Mailbox = v
			case "crm_user":
				bd.CRMUser = v
			case "mailbox_endpoint":
				bd.MailboxEndpoint = v
			case "crm_endpoint":
				bd.CRMEndpoint = v
			}
		}
		if bd.Name == "" {
			continue
		}
		p.name("binding", bd.Name, bd.nameRange)
		if prev := p.cfg.Binding(bd.Name); prev != nil {
			p.errorf(&bd.nameRange, "Duplicate binding", "A binding named %q is already defined at %s; binding names must be unique.", bd.Name, Where(prev.Range))
			continue
		}
		p.cfg.Bindings = append(p.cfg.Bindings, bd)
	}
}

func cellRange(path string, line, column int, text string) hcl.Range {
	return hcl.Range{Filename: path,
		Start: hcl.Pos{Line: line, Column: column},
		End:   hcl.Pos{Line: line, Column: column + len(text)}}
}
