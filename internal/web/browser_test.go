package web_test

// Browser tests: a real headless Chromium, driven from Go with chromedp,
// opens the page served by node 0 of a 4-validator network (one of them
// Byzantine) and every assertion reads the rendered DOM.
//
// Without a browser the tests skip, saying so; with
// STRATEGOS_BROWSER_REQUIRE=1 (set by CI) they fail instead. With
// STRATEGOS_SCREENSHOTS=1 they rewrite docs/screenshots/*.png.

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"github.com/strategos/strategos/internal/app/bank"
	"github.com/strategos/strategos/internal/chain"
	"github.com/strategos/strategos/internal/keys"
	"github.com/strategos/strategos/internal/testbin"
	"github.com/strategos/strategos/internal/testnet"
)

const (
	requireEnv     = "STRATEGOS_BROWSER_REQUIRE"
	screenshotsEnv = "STRATEGOS_SCREENSHOTS"
	screenshotDir  = "../../docs/screenshots"
)

// findBrowser returns the path of a Chromium, or says loudly why the
// browser tests cannot run.
func findBrowser(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("STRATEGOS_CHROMIUM"); p != "" {
		return p
	}
	if _, err := os.Stat("/usr/bin/chromium"); err == nil {
		return "/usr/bin/chromium"
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "google-chrome-stable"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	noBrowser(t, "no Chromium found (/usr/bin/chromium, chromium, google-chrome on PATH, or STRATEGOS_CHROMIUM); install Debian's: apt-get install -y chromium")
	return ""
}

func noBrowser(t *testing.T, why string) {
	t.Helper()
	msg := "BROWSER TESTS NOT RUN: " + why
	if os.Getenv(requireEnv) == "1" {
		t.Fatal(msg + " (" + requireEnv + "=1)")
	}
	t.Skip(msg)
}

// startBrowser launches a headless Chromium with a fresh profile and
// returns a tab's context.
func startBrowser(t *testing.T, path string) context.Context {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 900),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelTab := chromedp.NewContext(actx)
	t.Cleanup(func() { cancelTab(); cancelAlloc() })
	// The first Do starts the browser; it must not carry a timeout, which
	// would stop the browser with it, so the wait is bounded here.
	started := make(chan error, 1)
	go func() { started <- chromedp.Do(ctx) }()
	var err error
	select {
	case err = <-started:
	case <-time.After(30 * time.Second):
		err = errors.New("no answer within 30 s")
	}
	if err != nil {
		noBrowser(t, fmt.Sprintf("Chromium at %s did not start: %v", path, err))
	}
	return ctx
}

// network is a running testnet.
type network struct {
	man testnet.Manifest
	out *testbin.Buffer
}

// startNetwork runs `strategos testnet --byzantine 1` in-process: four
// validators, the highest equivocating, on free loopback ports.
func startNetwork(t *testing.T) *network {
	t.Helper()
	home := t.TempDir()
	out := &testbin.Buffer{}
	apiPort, p2pPort, rpcPort := freePorts(t, 4), freePorts(t, 4), freePorts(t, 4)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- testnet.Run(ctx, testnet.Options{
			Nodes: 4, Byzantine: 1, Behavior: "equivocate", Home: home, APIPort: apiPort, P2PPort: p2pPort, RPCPort: rpcPort,
			App: "bank", LogLevel: slog.LevelWarn, Out: out,
		})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("testnet: %v", err)
		}
	})
	deadline := time.Now().Add(30 * time.Second)
	for {
		raw, err := os.ReadFile(filepath.Join(home, "testnet.json"))
		if err == nil {
			n := &network{out: out}
			if err := json.Unmarshal(raw, &n.man); err != nil {
				t.Fatal(err)
			}
			return n
		}
		select {
		case err := <-done:
			t.Fatalf("testnet stopped: %v\n%s", err, out.String())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("testnet.json not written within 30 s:\n%s", out.String())
		}
	}
}

// freePorts returns base such that base..base+n-1 are free on 127.0.0.1.
func freePorts(t *testing.T, n int) int {
	t.Helper()
	base, err := testbin.FreePorts(n)
	if err != nil {
		t.Fatal(err)
	}
	return base
}

// page drives one tab.
type page struct {
	t   *testing.T
	ctx context.Context
}

// run runs steps with a deadline, failing the test with what was being
// done.
func (p *page) run(what string, within time.Duration, steps ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	value(p, what, within, chromedp.Steps(steps...))
}

// value runs one action with a deadline and returns its value.
func value[T any](p *page, what string, within time.Duration, a chromedp.Action[T]) T {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, within)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		loc, _ := chromedp.Run(p.ctx, chromedp.Location())
		p.t.Fatalf("%s: %v (page at %s)", what, err, loc)
	}
	return v
}

// until polls a JavaScript expression in the page until it is truthy.
func (p *page) until(what string, within time.Duration, expr string) {
	p.t.Helper()
	value(p, "waiting until "+what, within,
		chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingInterval(100*time.Millisecond), chromedp.WithPollingTimeout(within)))
}

// js evaluates an expression for its effect.
func js(expr string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, t *chromedp.Target) error {
		_, err := chromedp.Evaluate[*runtime.RemoteObject](expr)(ctx, t)
		return err
	})
}

// route follows an in-page link (the page is loaded once; its live data
// accumulate across views).
func (p *page) route(hash string) {
	p.t.Helper()
	p.run("go to "+hash, 5*time.Second, js(fmt.Sprintf("location.hash = %q", hash)))
}

func (p *page) text(sel string) string {
	p.t.Helper()
	return value(p, "read "+sel, 10*time.Second, chromedp.Text(chromedp.CSS(sel), chromedp.NodeVisible))
}

// screenshot writes docs/screenshots/name.png when STRATEGOS_SCREENSHOTS=1:
// the whole page if full, else the viewport.
func (p *page) screenshot(name string, full bool) {
	p.t.Helper()
	if os.Getenv(screenshotsEnv) != "1" {
		return
	}
	p.run("scroll to the top", 5*time.Second, js("window.scrollTo(0, 0)"))
	shot := chromedp.CaptureScreenshot()
	if full {
		shot = chromedp.FullScreenshot(100) // quality 100: PNG
	}
	png := value(p, "screenshot "+name, 10*time.Second, shot)
	if err := os.MkdirAll(screenshotDir, 0o755); err != nil {
		p.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(screenshotDir, name+".png"), png, 0o644); err != nil {
		p.t.Fatal(err)
	}
}

func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %d", url, resp.StatusCode)
	}
	if err := json.NewDecoder(resp.Body).Decode(v); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
}

func TestBrowser(t *testing.T) {
	if testing.Short() {
		t.Skip("browser tests start a network and a browser; not with -short")
	}
	chromium := findBrowser(t)
	net := startNetwork(t)
	base := net.man.Nodes[0].API
	if want := "web view: " + base + "/\n"; !strings.Contains(net.out.String(), want) {
		t.Errorf("testnet output lacks %q:\n%s", want, net.out.String())
	}
	p := &page{t: t, ctx: startBrowser(t, chromium)}
	scriptErrors := watchConsole(p.ctx)
	p.run("open the page", 20*time.Second,
		chromedp.Navigate(base+"/#/network"),
		chromedp.WaitVisible(chromedp.CSS(`#validators-body tr[data-validator="3"]`)))
	if os.Getenv(screenshotsEnv) == "1" {
		ctx, stop := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); offerLoad(ctx, net) }() // something to see on the tx/s chart
		t.Cleanup(func() { stop(); <-done })
	}

	t.Run("height increases", func(t *testing.T) {
		p := &page{t: t, ctx: p.ctx}
		p.until("a height shows", 15*time.Second, `Number(document.getElementById('net-height').textContent) > 0`)
		first, err := strconv.Atoi(p.text("#net-height"))
		if err != nil {
			t.Fatal(err)
		}
		p.until(fmt.Sprintf("the height passes %d", first+2), 15*time.Second,
			fmt.Sprintf(`Number(document.getElementById('net-height').textContent) > %d`, first+2))
	})

	t.Run("Byzantine validator marked", func(t *testing.T) {
		p := &page{t: t, ctx: p.ctx}
		// Validator 3 equivocates; node 0 marks it once it holds the proof.
		p.until("validator 3 is marked Byzantine", 20*time.Second,
			`document.querySelector('#validators-body tr[data-validator="3"]').dataset.byzantine === 'true'`)
		row := p.text(`#validators-body tr[data-validator="3"]`)
		if !strings.Contains(row, "Byzantine") {
			t.Errorf("validator 3's row says %q: the mark must be in words, not colour alone", row)
		}
		for i := range 3 {
			if row := p.text(fmt.Sprintf(`#validators-body tr[data-validator="%d"]`, i)); strings.Contains(row, "Byzantine") {
				t.Errorf("honest validator %d marked: %q", i, row)
			}
		}
	})

	t.Run("block shows its certificate signers", func(t *testing.T) {
		p := &page{t: t, ctx: p.ctx}
		p.route("#/explorer")
		p.run("open the latest block", 15*time.Second,
			chromedp.WaitVisible(chromedp.CSS(`#blocks-body tr a`)),
			chromedp.Click(chromedp.CSS(`#blocks-body tr:first-child a`)),
			chromedp.WaitVisible(chromedp.CSS(`[data-testid="qc-signers"] li`)))
		heading := p.text("#explorer-page h2")
		height, err := strconv.Atoi(strings.TrimPrefix(heading, "Block "))
		if err != nil {
			t.Fatalf("block page heading %q", heading)
		}
		shown := value(p, "read the signers", 5*time.Second, chromedp.Evaluate[[]string](
			`[...document.querySelectorAll('[data-testid="qc-signers"] li')].map((li) => li.dataset.signer)`))
		var b struct {
			Hash string `json:"hash"`
			QC   struct {
				Signers []uint32 `json:"signers"`
			} `json:"qc"`
		}
		getJSON(t, fmt.Sprintf("%s/v1/blocks/%d", base, height), &b)
		var want []string
		for _, s := range b.QC.Signers {
			want = append(want, strconv.Itoa(int(s)))
		}
		if strings.Join(shown, ",") != strings.Join(want, ",") || len(want) < 3 {
			t.Errorf("block %d shows signers %v, the API says %v (quorum 3 of 4)", height, shown, want)
		}
		if page := p.text("#page-body"); !strings.Contains(page, b.Hash) {
			t.Errorf("block %d's page lacks its hash %s", height, b.Hash)
		}
		p.screenshot("explorer-block", true)
	})

	t.Run("transaction submitted from the page commits", func(t *testing.T) {
		p := &page{t: t, ctx: p.ctx}
		// The line `strategos tx sign` prints, made with the project's own
		// signing code and a demo key of the testnet.
		from, chainID, err := keys.ReadFor(filepath.Join(net.man.KeysDir, "account0.key"))
		if err != nil {
			t.Fatal(err)
		}
		to, err := keys.Read(filepath.Join(net.man.KeysDir, "account1.key"))
		if err != nil {
			t.Fatal(err)
		}
		line, err := bank.Sign(from, chainID, chain.AddressOf(to.Public().(ed25519.PublicKey)), 42, 0)
		if err != nil {
			t.Fatal(err)
		}
		hash := chain.TxHash(line).String()
		p.route("#/explorer")
		p.run("submit the transaction", 10*time.Second,
			chromedp.Click(chromedp.CSS(`#submit-box summary`)),
			chromedp.WaitVisible(chromedp.CSS(`#tx-body`)),
			chromedp.SetValue(chromedp.CSS(`#tx-body`), string(line)),
			chromedp.Click(chromedp.CSS(`#submit-tx button[type="submit"]`)))
		p.until("the page shows it committed", 20*time.Second,
			`document.querySelector('[data-testid="tx-status"]')?.dataset.status === 'committed'`)
		loc := value(p, "read the location", 5*time.Second, chromedp.Location())
		if !strings.HasSuffix(loc, "#/explorer/tx/"+hash) {
			t.Errorf("after submitting, the page is at %s, want the transaction %s", loc, hash)
		}
		if s := p.text(`[data-testid="tx-status"]`); !strings.Contains(s, "committed at height") {
			t.Errorf("status reads %q", s)
		}
	})

	t.Run("generals playground", func(t *testing.T) {
		p := &page{t: t, ctx: p.ctx}
		p.route("#/generals")
		runGenerals := func(n string, violation string) {
			p.run("run "+n+" generals", 10*time.Second,
				chromedp.WaitVisible(chromedp.CSS(`#gen-n`)),
				chromedp.SetValue(chromedp.CSS(`#gen-n`), n),
				chromedp.SetValue(chromedp.CSS(`#gen-t`), "1"),
				js(`document.getElementById('gen-exhaustive').checked || document.getElementById('gen-exhaustive').click()`),
				chromedp.Click(chromedp.CSS(`#gen-run`)))
			p.until(n+" generals verdict", 10*time.Second,
				fmt.Sprintf(`document.getElementById('gen-verdict')?.dataset.violation === %q && document.getElementById('gen-run').disabled === false`, violation))
		}
		runGenerals("4", "false")
		if v := p.text("#gen-verdict"); !strings.Contains(v, "No violation") {
			t.Errorf("4 generals, 1 traitor: verdict %q", v)
		}
		runGenerals("3", "true")
		if v := p.text("#gen-verdict"); !strings.Contains(v, "Violation") || strings.Contains(v, "No violation") {
			t.Errorf("3 generals, 1 traitor: verdict %q", v)
		}
		if trace := p.text(".trace"); !strings.Contains(trace, "round 1") || !strings.Contains(trace, "traitor") {
			t.Errorf("the trace does not show who told whom what: %q", trace)
		}
		p.screenshot("generals", true)
	})

	t.Run("keyboard navigation", func(t *testing.T) {
		p := &page{t: t, ctx: p.ctx}
		p.route("#/network")
		// Tab from the first tab stop to the Explorer link and press Enter.
		p.run("focus the skip link", 5*time.Second, js(`document.querySelector('.skip').focus()`))
		for i := 0; ; i++ {
			p.run("tab", 5*time.Second, chromedp.KeyEvent("\t"))
			active := value(p, "read the focus", 5*time.Second,
				chromedp.Evaluate[string](`document.activeElement.getAttribute('href') || document.activeElement.id`))
			if active == "#/explorer" {
				break
			}
			if i > 10 {
				t.Fatalf("the Explorer link is not among the first ten tab stops (at %q)", active)
			}
		}
		p.run("press Enter", 5*time.Second, chromedp.KeyEvent("\r"))
		p.until("the explorer shows, its heading focused", 5*time.Second,
			`!document.getElementById('view-explorer').hidden && document.activeElement.id === 'h-explorer'`)
	})

	t.Run("agreement live", func(t *testing.T) {
		p := &page{t: t, ctx: p.ctx}
		if !eventsServed(base) {
			t.Skip("GET /v1/events is not served by this build: the agreement view has no stream to show")
		}
		p.route("#/agreement")
		p.until("the stream is live and a round committed", 20*time.Second,
			`document.getElementById('ag-stream').classList.contains('open') && document.querySelector('#rounds li.round.done .step.proposal') !== null && document.querySelector('#rounds .step.qc') !== null`)
		p.screenshot("agreement", false)
	})

	t.Run("network view", func(t *testing.T) {
		p := &page{t: t, ctx: p.ctx}
		p.route("#/network")
		if os.Getenv(screenshotsEnv) == "1" {
			// For the picture only: let the charts gather half a minute of load.
			p.until("the page has been open 30 s", 45*time.Second, `performance.now() > 30000`)
			p.until("the tx/s chart has data", 20*time.Second, `/now [1-9]/.test(document.getElementById('chart-tps-note').textContent)`)
		}
		p.screenshot("network", true)
		// On a phone-sized screen no view is wider than the screen.
		p.run("phone size", 5*time.Second, chromedp.EmulateViewport(390, 844, chromedp.EmulateScale(2)))
		for _, v := range []string{"#/network", "#/agreement", "#/explorer/block/1", "#/generals"} {
			p.route(v)
			p.until(v+" fits a phone's width", 5*time.Second, `document.documentElement.scrollWidth <= window.innerWidth`)
		}
		p.route("#/network")
		p.screenshot("network-phone", false)
	})

	t.Run("no script errors", func(t *testing.T) {
		// Messages arrive in order: once this one is in, every earlier one is.
		p := &page{t: t, ctx: p.ctx}
		p.run("mark the console", 5*time.Second, js(`console.log('`+endMark+`')`))
		for deadline := time.Now().Add(5 * time.Second); !scriptErrors.ended(); {
			if time.Now().After(deadline) {
				t.Fatal("the console's messages did not arrive")
			}
			time.Sleep(20 * time.Millisecond)
		}
		for _, e := range scriptErrors.list() {
			t.Errorf("the page's scripts failed: %s", e)
		}
	})
}

// consoleErrors collects the page's uncaught exceptions and its calls of
// console.error (the browser's own log, such as a 404 that a poll expects,
// is not the page's failure).
type consoleErrors struct {
	mu   sync.Mutex
	errs []string
	end  bool // endMark seen
}

const endMark = "strategos browser test: end"

func (c *consoleErrors) ended() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.end
}

func (c *consoleErrors) list() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.errs...)
}

func watchConsole(ctx context.Context) *consoleErrors {
	c := &consoleErrors{}
	msgs := chromedp.Console(ctx) // subscribed from here on
	go func() {
		for m, err := range msgs {
			if err != nil {
				return // the browser is closing
			}
			c.mu.Lock()
			if m.IsException() || m.Type == chromedp.ConsoleError && m.Source == "" {
				c.errs = append(c.errs, fmt.Sprintf("%s (%s:%d)", m.Text, m.URL, m.Line+1))
			}
			if m.Type == chromedp.ConsoleLog && m.Text == endMark {
				c.end = true
			}
			c.mu.Unlock()
		}
	}()
	return c
}

// eventsServed reports whether the node answers GET /v1/events with a
// stream.
func eventsServed(base string) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/v1/events", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK && strings.HasPrefix(resp.Header.Get("Content-Type"), "text/event-stream")
}

// offerLoad submits a few transfers a second from the demo accounts 2..9
// until ctx ends, so that the screenshots show a non-zero tx/s.
func offerLoad(ctx context.Context, net *network) {
	type account struct {
		key   ed25519.PrivateKey
		nonce uint64
	}
	var accts []*account
	var chainID string
	for i := 2; i < 10; i++ {
		k, id, err := keys.ReadFor(filepath.Join(net.man.KeysDir, fmt.Sprintf("account%d.key", i)))
		if err != nil {
			return
		}
		chainID = id
		accts = append(accts, &account{key: k})
	}
	sink := chain.AddressOf(accts[0].key.Public().(ed25519.PublicKey))
	api := net.man.Nodes[0].API // pending nonces are per node: one node takes them all
	var sent uint64
	for {
		var batch []byte
		for _, a := range accts[1:] {
			var acct struct {
				PendingNonce uint64 `json:"pending_nonce"`
			}
			from := chain.AddressOf(a.key.Public().(ed25519.PublicKey))
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, api+"/v1/accounts/"+from.String(), nil)
			if resp, err := http.DefaultClient.Do(req); err == nil {
				json.NewDecoder(resp.Body).Decode(&acct)
				resp.Body.Close()
				a.nonce = acct.PendingNonce // resynchronise after any refusal
			}
			for range 3 {
				// The amount varies, so that a nonce signed again after a
				// refusal makes a new transaction, not the refused one.
				sent++
				line, err := bank.Sign(a.key, chainID, sink, sent, a.nonce)
				if err != nil {
					return
				}
				a.nonce++
				batch = append(append(batch, line...), '\n')
			}
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, api+"/v1/txs/batch", bytes.NewReader(batch))
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(300 * time.Millisecond):
		}
	}
}
