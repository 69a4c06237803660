// A small Go agent loop for leakbench's tests: one streamed OpenAI chat request per turn, 1 MB of churn per turn,
// and on request a known leak. Stdlib only, so it builds offline (GOPROXY=off).
//
//	-leak N   bytes kept forever per turn (the leaky twin: 16384)
//	-churn N  bytes allocated and dropped per turn (default 1 MiB)
//	-nogc     never collect (debug.SetGCPercent(-1)): no gctrace line is ever printed
//	-truth    after each turn, runtime.GC() then print "truth TURN HEAP_ALLOC": the live heap measured from inside
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"net/http"
	"os"
	"runtime"
	"runtime/debug"
	"strings"
)

var (
	kept [][]byte
	sink []byte
)

type chunk struct {
	Choices []struct {
		FinishReason *string `json:"finish_reason"`
	} `json:"choices"`
}

// turn sends one request and reads the stream; true once the model gave its final answer.
func turn(client *http.Client, base string) (bool, error) {
	body := []byte(`{"model":"mock","stream":true,"messages":[{"role":"user","content":"go"}]}`)
	req, err := http.NewRequest("POST", base+"/chat/completions", bytes.NewReader(body))
	if err != nil {
		return false, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+os.Getenv("OPENAI_API_KEY"))
	resp, err := client.Do(req)
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	finish := ""
	scanner := bufio.NewScanner(resp.Body)
	scanner.Buffer(make([]byte, 64*1024), 16<<20)
	for scanner.Scan() {
		line := scanner.Text()
		if !strings.HasPrefix(line, "data:") || line == "data: [DONE]" {
			continue
		}
		var c chunk
		if json.Unmarshal([]byte(line[5:]), &c) == nil {
			for _, choice := range c.Choices {
				if choice.FinishReason != nil && *choice.FinishReason != "" {
					finish = *choice.FinishReason
				}
			}
		}
	}
	return finish == "stop", scanner.Err()
}

func touched(n int) []byte {
	b := make([]byte, n)
	for i := 0; i < n; i += 4096 {
		b[i] = 1
	}
	return b
}

func main() {
	leak := flag.Int("leak", 0, "bytes kept per turn")
	churn := flag.Int("churn", 1<<20, "bytes allocated and dropped per turn")
	nogc := flag.Bool("nogc", false, "never collect")
	truth := flag.Bool("truth", false, "print the live heap after a forced collection, each turn")
	flag.Parse()
	if *nogc {
		debug.SetGCPercent(-1)
	}
	base := os.Getenv("OPENAI_BASE_URL")
	client := &http.Client{}
	var stats runtime.MemStats
	for i := 0; ; i++ {
		sink = touched(*churn)
		if *leak > 0 {
			kept = append(kept, touched(*leak))
		}
		done, err := turn(client, base)
		if err != nil {
			fmt.Fprintln(os.Stderr, "agent:", err)
			os.Exit(1)
		}
		if *truth {
			runtime.GC()
			runtime.ReadMemStats(&stats)
			fmt.Printf("truth %d %d\n", i, stats.HeapAlloc)
		}
		if done {
			return
		}
	}
}
