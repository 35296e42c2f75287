// serve: lays out DIR (keys, certificates, token file, audit policy, kubeconfigs), starts etcd embedded
// in this process, starts kube-apiserver and kube-controller-manager as children (this same binary),
// waits for /readyz, runs the node emulator and stops everything on SIGTERM/SIGINT.
package main

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"flag"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.etcd.io/etcd/server/v3/embed"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
)

// auditPolicy logs every request of people and tools at Metadata level (user, verb, objectRef, status);
// the control plane's own reads (controllers, the emulator, the apiserver's loopback) are left out so
// the log stays small, their writes are kept. Writes of Ingresses, HTTPRoutes and Deployments keep their
// request body too (Request level), so a test can read the weights and images a client sent.
const auditPolicy = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived"]
rules:
- level: None
  users: ["system:apiserver", "system:kube-controller-manager", "canary:node-emulator"]
  verbs: ["get", "list", "watch"]
- level: None
  userGroups: ["system:serviceaccounts:kube-system"]
  verbs: ["get", "list", "watch"]
- level: None
  nonResourceURLs: ["/readyz*", "/healthz*", "/livez*"]
- level: Request
  verbs: ["create", "update", "patch"]
  resources:
  - group: "networking.k8s.io"
    resources: ["ingresses"]
  - group: "gateway.networking.k8s.io"
    resources: ["httproutes"]
  - group: "apps"
    resources: ["deployments", "deployments/scale"]
- level: Metadata
`

// state is what serve writes to DIR/serve.json for the launcher and the tests.
type state struct {
	Server       string `json:"server"`
	EtcdEndpoint string `json:"etcd_endpoint"`
	AuditLog     string `json:"audit_log"`
	Pid          int    `json:"pid"`
}

func serve(args []string) int {
	fs := flag.NewFlagSet("serve", flag.ExitOnError)
	nodes := fs.Int("nodes", 3, "Nodes the emulator registers")
	podWatchCache := fs.Bool("pod-watch-cache", true, "false: pods are watched straight from etcd, so a compaction reaches pod watches at once (410 Gone)")
	if len(args) < 1 {
		fmt.Fprintln(os.Stderr, "usage: canary-controlplane serve DIR [--nodes N] [--pod-watch-cache=false]")
		return 2
	}
	dir, _ := filepath.Abs(args[0])
	fs.Parse(args[1:])
	if err := run(dir, *nodes, *podWatchCache); err != nil {
		fmt.Fprintln(os.Stderr, "serve:", err)
		return 1
	}
	return 0
}

func run(dir string, nodes int, podWatchCache bool) error {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return err
	}
	p := func(name string) string { return filepath.Join(dir, name) }
	ports, err := freePorts(3)
	if err != nil {
		return err
	}
	etcdURL, peerURL := fmt.Sprintf("http://127.0.0.1:%d", ports[0]), fmt.Sprintf("http://127.0.0.1:%d", ports[1])
	server := fmt.Sprintf("https://127.0.0.1:%d", ports[2])

	// Secrets of this run: a CA and the serving certificate, the service-account key pair, static tokens.
	caPEM, err := writePKI(dir)
	if err != nil {
		return err
	}
	tokens := map[string]string{"admin": randomToken(), "kcm": randomToken(), "emulator": randomToken()}
	tokenFile := fmt.Sprintf("%s,admin,uid-admin,\"system:masters\"\n%s,system:kube-controller-manager,uid-kcm\n%s,canary:node-emulator,uid-emulator,\"system:masters\"\n",
		tokens["admin"], tokens["kcm"], tokens["emulator"])
	for name, text := range map[string]string{"tokens.csv": tokenFile, "audit-policy.yaml": auditPolicy} {
		if err := os.WriteFile(p(name), []byte(text), 0o600); err != nil {
			return err
		}
	}
	for file, user := range map[string]string{"admin.kubeconfig": "admin", "kcm.kubeconfig": "kcm", "emulator.kubeconfig": "emulator"} {
		if err := writeKubeconfig(p(file), server, caPEM, user, tokens[user]); err != nil {
			return err
		}
	}

	// etcd, embedded: loopback only, no fsync (a test cluster's data need not survive a power cut).
	cfg := embed.NewConfig()
	cfg.Name, cfg.Dir = "canary", p("etcd")
	cu, _ := url.Parse(etcdURL)
	pu, _ := url.Parse(peerURL)
	cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{*cu}, []url.URL{*cu}
	cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{*pu}, []url.URL{*pu}
	cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
	cfg.LogLevel, cfg.LogOutputs = "warn", []string{p("etcd.log")}
	cfg.UnsafeNoFsync = true
	etcd, err := embed.StartEtcd(cfg)
	if err != nil {
		return fmt.Errorf("etcd: %w", err)
	}
	defer etcd.Close()
	select {
	case <-etcd.Server.ReadyNotify():
	case <-time.After(60 * time.Second):
		return fmt.Errorf("etcd not ready after 60s (see %s)", p("etcd.log"))
	}

	apiArgs := []string{
		"--etcd-servers=" + etcdURL,
		"--bind-address=127.0.0.1", "--advertise-address=127.0.0.1", "--secure-port=" + strconv.Itoa(ports[2]),
		"--tls-cert-file=" + p("apiserver.crt"), "--tls-private-key-file=" + p("apiserver.key"),
		"--client-ca-file=" + p("ca.crt"),
		"--token-auth-file=" + p("tokens.csv"),
		"--authorization-mode=RBAC",
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-account-key-file=" + p("sa.pub"), "--service-account-signing-key-file=" + p("sa.key"),
		"--service-cluster-ip-range=10.96.0.0/16",
		"--audit-policy-file=" + p("audit-policy.yaml"), "--audit-log-path=" + p("audit.log"),
		"--audit-log-format=json", "--audit-log-mode=blocking",
		// 127.0.0.1 is not a valid Endpoints address: do not publish the "kubernetes" Service's endpoints.
		"--endpoint-reconciler-type=none",
		"--profiling=false",
	}
	if !podWatchCache {
		apiArgs = append(apiArgs, "--watch-cache-sizes=pods#0")
	}
	children := &supervisor{}
	defer children.stopAll()
	if err := children.start("kube-apiserver", p("apiserver.log"), apiArgs); err != nil {
		return err
	}
	if err := waitReady(ctx, server, caPEM, tokens["admin"], children); err != nil {
		return err
	}
	kcmArgs := []string{
		"--kubeconfig=" + p("kcm.kubeconfig"),
		"--controllers=deployment-controller,replicaset-controller,garbage-collector-controller,namespace-controller," +
			"serviceaccount-controller,serviceaccount-token-controller,endpoints-controller,endpointslice-controller",
		"--service-account-private-key-file=" + p("sa.key"), "--root-ca-file=" + p("ca.crt"),
		"--use-service-account-credentials=true", "--leader-elect=false",
		"--secure-port=0", "--authentication-skip-lookup=true",
		// Deletions are seen by the garbage collector within a second, not after the default sync.
		"--concurrent-gc-syncs=5",
	}
	if err := children.start("kube-controller-manager", p("controller-manager.log"), kcmArgs); err != nil {
		return err
	}

	restCfg, err := clientcmd.BuildConfigFromFlags("", p("emulator.kubeconfig"))
	if err != nil {
		return err
	}
	restCfg.QPS, restCfg.Burst = 200, 400
	client, err := kubernetes.NewForConfig(restCfg)
	if err != nil {
		return err
	}
	kubeletPort, err := serveKubeletLogs(p("apiserver.crt"), p("apiserver.key"))
	if err != nil {
		return err
	}
	if err := registerNodes(ctx, client, nodes, kubeletPort); err != nil {
		return fmt.Errorf("registering nodes: %w", err)
	}
	go runEmulator(ctx, client)

	st, _ := json.MarshalIndent(state{server, etcdURL, p("audit.log"), os.Getpid()}, "", "  ")
	if err := os.WriteFile(p("serve.json"), st, 0o600); err != nil {
		return err
	}
	fmt.Println("ready")
	select {
	case <-ctx.Done():
		return nil
	case name := <-children.exited:
		return fmt.Errorf("%s exited on its own (see its log in %s)", name, dir)
	}
}

// supervisor starts children (this binary under another name) and stops them in reverse order.
type supervisor struct {
	cmds   []*exec.Cmd
	exited chan string
}

func (s *supervisor) start(name, logPath string, args []string) error {
	if s.exited == nil {
		s.exited = make(chan string, 4)
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	logf, err := os.OpenFile(logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return err
	}
	cmd := exec.Command(self, append([]string{name}, args...)...)
	cmd.Stdout, cmd.Stderr = logf, logf
	// A child never outlives serve, even when serve is killed with SIGKILL.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	s.cmds = append(s.cmds, cmd)
	go func() { cmd.Wait(); logf.Close(); s.exited <- name }()
	return nil
}

func (s *supervisor) stopAll() {
	for i := len(s.cmds) - 1; i >= 0; i-- {
		cmd := s.cmds[i]
		if cmd.ProcessState != nil {
			continue
		}
		cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() {
			for cmd.ProcessState == nil {
				if err := syscall.Kill(cmd.Process.Pid, 0); err != nil {
					break
				}
				time.Sleep(50 * time.Millisecond)
			}
			close(done)
		}()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			cmd.Process.Kill()
		}
	}
}

// waitReady polls /readyz with the admin token until it answers 200 (or a child dies, or 3 minutes pass).
func waitReady(ctx context.Context, server string, caPEM []byte, token string, s *supervisor) error {
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	deadline := time.Now().Add(3 * time.Minute)
	for time.Now().Before(deadline) {
		req, _ := http.NewRequestWithContext(ctx, "GET", server+"/readyz", nil)
		req.Header.Set("Authorization", "Bearer "+token)
		if resp, err := hc.Do(req); err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case name := <-s.exited:
			return fmt.Errorf("%s exited before /readyz", name)
		case <-time.After(200 * time.Millisecond):
		}
	}
	return fmt.Errorf("kube-apiserver not ready after 3 minutes")
}

// compact ENDPOINT: compacts etcd at its current revision, so every older resourceVersion is gone.
func compact(args []string) int {
	if len(args) != 1 {
		fmt.Fprintln(os.Stderr, "usage: canary-controlplane compact ETCD_ENDPOINT")
		return 2
	}
	cli, err := clientv3.New(clientv3.Config{Endpoints: args, DialTimeout: 5 * time.Second})
	if err != nil {
		fmt.Fprintln(os.Stderr, "compact:", err)
		return 1
	}
	defer cli.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	resp, err := cli.Get(ctx, "compact-probe")
	if err == nil {
		_, err = cli.Compact(ctx, resp.Header.Revision, clientv3.WithCompactPhysical())
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "compact:", err)
		return 1
	}
	fmt.Println(resp.Header.Revision)
	return 0
}

func freePorts(n int) ([]int, error) {
	var ports []int
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	for i := 0; i < n; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}

func randomToken() string {
	b := make([]byte, 24)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// writePKI writes ca.crt, apiserver.crt/.key (for 127.0.0.1 and localhost) and the service-account
// key pair sa.key/sa.pub; it returns the CA certificate in PEM.
func writePKI(dir string) ([]byte, error) {
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "canary-controlplane-ca"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * 365 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, err
	}
	caCert, _ := x509.ParseCertificate(caDER)
	srvKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	srvTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "kube-apiserver"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(24 * 365 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1"), net.ParseIP("10.96.0.1")},
		DNSNames:    []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc"},
	}
	srvDER, err := x509.CreateCertificate(rand.Reader, srvTmpl, caCert, &srvKey.PublicKey, caKey)
	if err != nil {
		return nil, err
	}
	srvKeyDER, _ := x509.MarshalECPrivateKey(srvKey)
	saKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, err
	}
	saPub, _ := x509.MarshalPKIXPublicKey(&saKey.PublicKey)
	caPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})
	files := map[string][]byte{
		"ca.crt":        caPEM,
		"apiserver.crt": pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srvDER}),
		"apiserver.key": pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: srvKeyDER}),
		"sa.key":        pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(saKey)}),
		"sa.pub":        pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: saPub}),
	}
	for name, data := range files {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			return nil, err
		}
	}
	return caPEM, nil
}

func writeKubeconfig(path, server string, caPEM []byte, user, token string) error {
	cfg := map[string]any{
		"apiVersion": "v1", "kind": "Config", "current-context": "canary",
		"clusters": []any{map[string]any{"name": "canary", "cluster": map[string]any{
			"server": server, "certificate-authority-data": caPEM}}},
		"users":    []any{map[string]any{"name": user, "user": map[string]any{"token": token}}},
		"contexts": []any{map[string]any{"name": "canary", "context": map[string]any{"cluster": "canary", "user": user}}},
	}
	data, err := json.MarshalIndent(cfg, "", "  ") // JSON is YAML; []byte marshals as base64 as kubeconfig wants
	if err != nil {
		return err
	}
	return os.WriteFile(path, data, 0o600)
}
