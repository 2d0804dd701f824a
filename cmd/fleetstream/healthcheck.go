package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/spf13/cobra"
)

// newHealthcheckCmd is the container health check: distroless images have no curl, so the
// binary probes its own HTTP endpoint (Docker HEALTHCHECK, ECS healthCheck).
func newHealthcheckCmd(stdout io.Writer) *cobra.Command {
	var (
		url     string
		timeout time.Duration
	)
	cmd := &cobra.Command{
		Use:   "healthcheck",
		Short: "Probe a worker's HTTP endpoint and exit 0 on 200 (container health checks; distroless has no curl)",
		Example: `  fleetstream healthcheck
  fleetstream healthcheck --url http://127.0.0.1:8080/readyz`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := bindEnv(cmd); err != nil {
				return err
			}
			return probe(cmd.Context(), url, timeout, stdout)
		},
	}
	cmd.Flags().StringVar(&url, "url", "http://127.0.0.1:8080/healthz", "URL to GET; anything but 200 OK is unhealthy")
	cmd.Flags().DurationVar(&timeout, "timeout", 2*time.Second, "deadline of the whole request")
	return cmd
}

// probe GETs url within timeout and returns nil only on 200 OK.
func probe(ctx context.Context, url string, timeout time.Duration, stdout io.Writer) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("healthcheck --url %q: %w", url, err)
	}
	// No proxy from the environment: the probe is meant for the worker next to it.
	client := &http.Client{Transport: &http.Transport{Proxy: nil, DisableKeepAlives: true}}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("healthcheck %s: %w", url, err)
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("healthcheck %s: %s", url, resp.Status)
	}
	fmt.Fprintf(stdout, "%s %s\n", url, resp.Status)
	return nil
}
