package admin

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// ErrNotRunning means no gateway answers on the admin address: the
// commands then read the stopped gateway's data instead.
var ErrNotRunning = errors.New("no gateway is running on the admin address")

// Client calls a running gateway's admin API.
type Client struct {
	base  string
	token string
	http  *http.Client
}

// Dial finds the running gateway of a data_dir: its token file and an
// answer on listen. ErrNotRunning when there is none.
func Dial(dataDir, listen string) (*Client, error) {
	b, err := os.ReadFile(filepath.Join(dataDir, TokenFile))
	if err != nil {
		return nil, ErrNotRunning
	}
	c := &Client{base: "http://" + listen, token: strings.TrimSpace(string(b)), http: &http.Client{Timeout: 30 * time.Second}}
	probe := &http.Client{Timeout: 2 * time.Second}
	req, _ := http.NewRequest(http.MethodGet, c.base+"/v1/status", nil)
	req.Header.Set("Authorization", "Bearer "+c.token)
	res, err := probe.Do(req)
	if err != nil {
		return nil, ErrNotRunning
	}
	res.Body.Close()
	if res.StatusCode == http.StatusUnauthorized {
		return nil, fmt.Errorf("the gateway on %s refused the token in %s: is it another gateway's address?", listen, filepath.Join(dataDir, TokenFile))
	}
	return c, nil
}

// Get decodes the JSON answer of a GET.
func (c *Client) Get(path string, v any) error { return c.do(http.MethodGet, path, v) }

// Post calls an action and decodes its answer.
func (c *Client) Post(path string, v any) error { return c.do(http.MethodPost, path, v) }

// Stream writes a GET's raw answer (a backup) to w.
func (c *Client) Stream(path string, w io.Writer) error {
	res, err := c.request(http.MethodGet, path)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return apiError(res)
	}
	_, err = io.Copy(w, res.Body)
	return err
}

func (c *Client) do(method, path string, v any) error {
	res, err := c.request(method, path)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return apiError(res)
	}
	return json.NewDecoder(res.Body).Decode(v)
}

func (c *Client) request(method, path string) (*http.Response, error) {
	req, err := http.NewRequest(method, c.base+path, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Authorization", "Bearer "+c.token)
	return c.http.Do(req)
}

func apiError(res *http.Response) error {
	var e struct {
		Error string `json:"error"`
	}
	if json.NewDecoder(res.Body).Decode(&e) == nil && e.Error != "" {
		return errors.New(e.Error)
	}
	return fmt.Errorf("admin API: %s", res.Status)
}
