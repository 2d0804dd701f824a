package awsfake

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// call sends a signed-looking JSON 1.0 request and returns the status and decoded answer.
func call(t *testing.T, f *Timestream, op string, body any) (int, map[string]any) {
	t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest(http.MethodPost, f.URL(), bytes.NewReader(b))
	req.Header.Set("X-Amz-Target", "Timestream_20181101."+op)
	req.Header.Set("Content-Type", "application/x-amz-json-1.0")
	req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=AKID/20250301/eu-west-1/timestream/aws4_request, SignedHeaders=host, Signature=0")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	out := map[string]any{}
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &out); err != nil {
			t.Fatalf("%s answered %q: %v", op, raw, err)
		}
	}
	return resp.StatusCode, out
}

func multi(vin string, ms int64, version int64, speed string) map[string]any {
	return map[string]any{
		"Dimensions":    []map[string]string{{"Name": "vin", "Value": vin}},
		"MeasureName":   "signals",
		"Time":          fmt.Sprint(ms),
		"Version":       version,
		"MeasureValues": []map[string]string{{"Name": "speed", "Type": "DOUBLE", "Value": speed}},
	}
}

func write(t *testing.T, f *Timestream, records ...map[string]any) (int, map[string]any) {
	return call(t, f, "WriteRecords", map[string]any{
		"DatabaseName": "db", "TableName": "tbl",
		"CommonAttributes": map[string]any{"MeasureValueType": "MULTI", "TimeUnit": "MILLISECONDS"},
		"Records":          records,
	})
}

func TestTimestreamVersionRules(t *testing.T) {
	f := NewTimestream()
	defer f.Close()
	f.CreateTable("db", "tbl", TableOptions{})
	now := time.Now().UnixMilli()

	steps := []struct {
		name     string
		version  int64
		speed    string
		rejected bool
		stored   string // speed held afterwards
	}{
		{"insert", 5, "10", false, "10"},
		{"same version, same data", 5, "10", false, "10"},
		{"same version, other data", 5, "11", true, "10"},
		{"lower version", 4, "12", true, "10"},
		{"higher version upserts", 6, "13", false, "13"},
	}
	for _, s := range steps {
		status, out := write(t, f, multi("V1", now, s.version, s.speed))
		if got := status != http.StatusOK; got != s.rejected {
			t.Errorf("%s: status %d %v", s.name, status, out)
		}
		if s.rejected {
			rr := out["RejectedRecords"].([]any)[0].(map[string]any)
			if !strings.HasSuffix(out["__type"].(string), "#RejectedRecordsException") || rr["RecordIndex"] != 0.0 || rr["ExistingVersion"] == nil {
				t.Errorf("%s: %v", s.name, out)
			}
		}
		recs := f.Records("db", "tbl")
		if len(recs) != 1 || recs[0].Measures["speed"].Value != s.stored {
			t.Errorf("%s: stored %v", s.name, recs)
		}
	}
	if r := f.Records("db", "tbl")[0]; r.Writes != 2 || r.Version != 6 || r.Bytes != 8+3+2+7+5+8 {
		t.Errorf("record %+v", r)
	}
}

func TestTimestreamRequestChecks(t *testing.T) {
	f := NewTimestream()
	defer f.Close()
	f.CreateTable("db", "tbl", TableOptions{MemoryStoreRetentionHours: 1})
	now := time.Now().UnixMilli()

	var many []map[string]any
	for i := 0; i < 101; i++ {
		many = append(many, multi(fmt.Sprint("V", i), now, 1, "1"))
	}
	if status, out := write(t, f, many...); status != 400 || !strings.HasSuffix(out["__type"].(string), "#ValidationException") {
		t.Errorf("101 records: %d %v", status, out)
	}
	overlap := multi("V1", now, 1, "1")
	status, out := call(t, f, "WriteRecords", map[string]any{"DatabaseName": "db", "TableName": "tbl",
		"CommonAttributes": map[string]any{"MeasureValueType": "MULTI", "Dimensions": []map[string]string{{"Name": "vin", "Value": "V2"}}},
		"Records":          []any{overlap}})
	if status != 400 || !strings.Contains(out["Message"].(string), "overlap") {
		t.Errorf("overlapping dimensions: %d %v", status, out)
	}
	status, out = write(t, f, multi("V1", now-2*time.Hour.Milliseconds(), 1, "1"), multi("V2", now, 1, "1"))
	if status != 400 || len(out["RejectedRecords"].([]any)) != 1 || len(f.Records("db", "tbl")) != 1 {
		t.Errorf("a record older than the memory store: %d %v", status, out)
	}
	if status, out := call(t, f, "WriteRecords", map[string]any{"DatabaseName": "db", "TableName": "nope", "Records": []any{multi("V", now, 1, "1")}}); status != 400 || !strings.HasSuffix(out["__type"].(string), "#ResourceNotFoundException") {
		t.Errorf("missing table: %d %v", status, out)
	}
	status, out = call(t, f, "DescribeEndpoints", map[string]any{})
	if status != 200 || !strings.HasPrefix(f.URL(), "http://"+out["Endpoints"].([]any)[0].(map[string]any)["Address"].(string)) {
		t.Errorf("DescribeEndpoints: %v", out)
	}
}

func TestTimestreamFaults(t *testing.T) {
	f := NewTimestream()
	defer f.Close()
	f.CreateTable("db", "tbl", TableOptions{})
	now := time.Now().UnixMilli()
	f.Fail("WriteRecords", Fault{Type: "ThrottlingException"}, Fault{Status: 503}, Fault{Reject: []int{0}, Reason: "no"}, Fault{Type: "InternalServerException", Apply: true})
	if status, out := write(t, f, multi("V1", now, 1, "1")); status != 400 || out["__type"] != "com.amazonaws.timestream.v20181101#ThrottlingException" {
		t.Errorf("throttling: %d %v", status, out)
	}
	if status, _ := write(t, f, multi("V1", now, 1, "1")); status != 503 {
		t.Errorf("503: %d", status)
	}
	if status, out := write(t, f, multi("V1", now, 1, "1"), multi("V2", now, 1, "1")); status != 400 || len(out["RejectedRecords"].([]any)) != 1 {
		t.Errorf("forced rejection: %d %v", status, out)
	}
	if status, _ := write(t, f, multi("V3", now, 1, "1")); status != 500 {
		t.Errorf("500: %d", status)
	}
	if n := len(f.Records("db", "tbl")); n != 2 || f.Calls("WriteRecords") != 4 {
		t.Errorf("V2 (beside the rejected record) and V3 (applied before the 500) should be stored: %d records, %d calls", n, f.Calls("WriteRecords"))
	}
}
