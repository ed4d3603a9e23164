// Command pulumi-language-nodejs is a MINIMAL stand-in for Pulumi's Node.js language host.
//
// Why this file exists: the real host lives in its own Go module
// (github.com/pulumi/pulumi/sdk/nodejs/cmd/pulumi-language-nodejs/v3, pseudo-versions only) and
// the Go module proxy reachable here refuses every version of it ("This module version is not
// available"), while no download site is reachable. Without a language host `pulumi preview`
// cannot run a Node.js program at all.
//
// It implements only what preview/up/destroy of a Node.js/TypeScript program need, the same way
// the real host does it: GetRequiredPackages scans node_modules for Pulumi resource packages, and
// Run starts `node <nodeargs> @pulumi/pulumi/cmd/run --monitor ... <entrypoint>` with the stack
// config in PULUMI_CONFIG; RunPlugin starts policy packs (`pulumi preview --policy-pack`) with
// `@pulumi/pulumi/cmd/run-policy-pack`. Not implemented (Unimplemented/no-op): dependency
// installation, the synchronous-invoke pipes, debugging, codegen, packing, other plugin kinds,
// `pulumi about` details. Replace it with the real host as soon as the module proxy serves it.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	sdk "github.com/pulumi/pulumi/sdk/v3"
	"github.com/pulumi/pulumi/sdk/v3/go/common/apitype"
	"github.com/pulumi/pulumi/sdk/v3/go/common/resource/config"
	"github.com/pulumi/pulumi/sdk/v3/go/common/util/rpcutil"
	pulumirpc "github.com/pulumi/pulumi/sdk/v3/proto/go"
	"google.golang.org/grpc"
	"google.golang.org/protobuf/types/known/emptypb"
)

// Version is set with -ldflags -X main.Version=... by testbed/toolchain/build.sh.
var Version = "0.0.0-dev"

// exitBail is the exit code @pulumi/pulumi's runner uses after it has already shown the error.
const exitBail = 32

type host struct {
	pulumirpc.UnimplementedLanguageRuntimeServer
	engine string
}

func main() {
	flag.String("tracing", "", "ignored (accepted for compatibility)")
	flag.String("runtime", "nodejs", "ignored (only nodejs is supported)")
	showVersion := flag.Bool("version", false, "print the version and exit")
	flag.Parse()
	if *showVersion {
		fmt.Println(Version)
		return
	}
	h := &host{}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if flag.NArg() > 0 {
		h.engine = flag.Arg(0)
		// Exit when the engine goes away, like every Pulumi plugin.
		if err := rpcutil.Healthcheck(ctx, h.engine, 5*time.Minute, cancel); err != nil {
			fail(err)
		}
	}
	stop := make(chan bool)
	go func() { <-ctx.Done(); close(stop) }()
	handle, err := rpcutil.ServeWithOptions(rpcutil.ServeOptions{
		Cancel: stop,
		Init: func(srv *grpc.Server) error {
			pulumirpc.RegisterLanguageRuntimeServer(srv, h)
			return nil
		},
	})
	if err != nil {
		fail(err)
	}
	fmt.Printf("%d\n", handle.Port) // the engine reads the port from stdout
	if err := <-handle.Done; err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintf(os.Stderr, "pulumi-language-nodejs: %v\n", err)
	os.Exit(1)
}

func (h *host) Handshake(_ context.Context, req *pulumirpc.LanguageHandshakeRequest,
) (*pulumirpc.LanguageHandshakeResponse, error) {
	if req.GetEngineAddress() != "" {
		h.engine = req.GetEngineAddress()
	}
	return &pulumirpc.LanguageHandshakeResponse{}, nil
}

func (h *host) GetPluginInfo(context.Context, *emptypb.Empty) (*pulumirpc.PluginInfo, error) {
	return &pulumirpc.PluginInfo{Version: Version}, nil
}

// InstallDependencies is a no-op: the project installs its node_modules itself (npm ci).
func (h *host) InstallDependencies(*pulumirpc.InstallDependenciesRequest,
	pulumirpc.LanguageRuntime_InstallDependenciesServer,
) error {
	return nil
}

// GetRequiredPackages lists node_modules packages whose package.json says {"pulumi": {"resource": true}}.
func (h *host) GetRequiredPackages(_ context.Context, req *pulumirpc.GetRequiredPackagesRequest,
) (*pulumirpc.GetRequiredPackagesResponse, error) {
	nm := filepath.Join(req.GetInfo().GetProgramDirectory(), "node_modules")
	var dirs []string
	entries, _ := os.ReadDir(nm)
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "@") {
			scoped, _ := os.ReadDir(filepath.Join(nm, e.Name()))
			for _, s := range scoped {
				dirs = append(dirs, filepath.Join(nm, e.Name(), s.Name()))
			}
		} else {
			dirs = append(dirs, filepath.Join(nm, e.Name()))
		}
	}
	var pkgs []*pulumirpc.PackageDependency
	for _, d := range dirs {
		var pj struct {
			Name   string `json:"name"`
			Ver    string `json:"version"`
			Pulumi struct {
				Resource bool   `json:"resource"`
				Name     string `json:"name"`
				Version  string `json:"version"`
				Server   string `json:"server"`
			} `json:"pulumi"`
		}
		b, err := os.ReadFile(filepath.Join(d, "package.json"))
		if err != nil || json.Unmarshal(b, &pj) != nil || !pj.Pulumi.Resource {
			continue
		}
		name, ver := pj.Pulumi.Name, pj.Pulumi.Version
		if name == "" {
			name = strings.TrimPrefix(pj.Name, "@pulumi/")
		}
		if ver == "" {
			ver = pj.Ver
		}
		pkgs = append(pkgs, &pulumirpc.PackageDependency{
			Name: name, Kind: "resource", Version: "v" + strings.TrimPrefix(ver, "v"), Server: pj.Pulumi.Server,
		})
	}
	return &pulumirpc.GetRequiredPackagesResponse{Packages: pkgs}, nil
}

// Run starts the program with @pulumi/pulumi's own runner, as the real host does.
func (h *host) Run(ctx context.Context, req *pulumirpc.RunRequest) (*pulumirpc.RunResponse, error) {
	info := req.GetInfo()
	dir := info.GetProgramDirectory()
	node, err := exec.LookPath("node")
	if err != nil {
		return &pulumirpc.RunResponse{Error: "could not find node on the $PATH: " + err.Error()}, nil
	}
	resolve := exec.CommandContext(ctx, node, "-e", `console.log(require.resolve("@pulumi/pulumi/cmd/run"))`)
	resolve.Dir = dir
	out, err := resolve.Output()
	if err != nil {
		return &pulumirpc.RunResponse{Error: "cannot find @pulumi/pulumi in " + dir + " (run npm ci)"}, nil
	}

	opts := info.GetOptions().AsMap()
	var args []string
	if na, ok := opts["nodeargs"].(string); ok {
		args = append(args, strings.Fields(na)...)
	}
	args = append(args, strings.TrimSpace(string(out)))
	add := func(k, v string) {
		if v != "" {
			args = append(args, "--"+k, v)
		}
	}
	add("monitor", req.GetMonitorAddress())
	add("engine", h.engine)
	add("organization", req.GetOrganization())
	add("project", req.GetProject())
	add("root-directory", info.GetRootDirectory())
	add("stack", req.GetStack())
	add("pwd", dir)
	if req.GetDryRun() {
		args = append(args, "--dry-run")
	}
	add("parallel", strconv.Itoa(int(req.GetParallel())))
	args = append(args, info.GetEntryPoint())
	args = append(args, req.GetArgs()...)

	// @pulumi/pulumi reads config keys in the "<namespace>:config:<name>" form.
	cfg := map[string]string{}
	for k, v := range req.GetConfig() {
		key, err := config.ParseKey(k)
		if err != nil {
			return &pulumirpc.RunResponse{Error: err.Error()}, nil
		}
		cfg[key.Namespace()+":config:"+key.Name()] = v
	}
	cfgJSON, _ := json.Marshal(cfg)
	secrets := req.GetConfigSecretKeys()
	if secrets == nil {
		secrets = []string{}
	}
	secretsJSON, _ := json.Marshal(secrets)
	env := append(os.Environ(), "PULUMI_CONFIG="+string(cfgJSON), "PULUMI_CONFIG_SECRET_KEYS="+string(secretsJSON))
	if ts, ok := opts["typescript"].(bool); !ok || ts { // typescript defaults to true
		env = append(env, "PULUMI_NODEJS_TYPESCRIPT=true")
	}
	if tc, ok := opts["tsconfig"].(string); ok && tc != "" {
		env = append(env, "PULUMI_NODEJS_TSCONFIG_PATH="+tc)
	}

	cmd := exec.CommandContext(ctx, node, args...)
	cmd.Dir = dir
	cmd.Env = env
	// Wrapped so exec copies through pipes: node may switch its stdio to non-blocking mode.
	cmd.Stdout, cmd.Stderr = struct{ io.Writer }{os.Stdout}, struct{ io.Writer }{os.Stderr}
	if err := cmd.Run(); err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			if ee.ExitCode() == exitBail {
				return &pulumirpc.RunResponse{Bail: true}, nil
			}
			return &pulumirpc.RunResponse{Error: fmt.Sprintf("Program exited with non-zero exit code: %d", ee.ExitCode())}, nil
		}
		return &pulumirpc.RunResponse{Error: "could not run node: " + err.Error()}, nil
	}
	return &pulumirpc.RunResponse{}, nil
}

// RunPlugin exists because, when a language host is installed, the engine starts a policy pack
// (`pulumi preview --policy-pack DIR`, PulumiPolicy.yaml `runtime: nodejs`) through it instead of
// the old `pulumi-analyzer-policy` shim (sdk/v3 go/common/resource/plugin/analyzer_plugin.go).
// Mirrors the real host (sdk/nodejs/cmd/pulumi-language-nodejs, v3.248.0), analyzers only: runs
// `node @pulumi/pulumi/cmd/run-policy-pack [nodeargs] <engine> <policy dir>` in the policy dir
// (run-policy-pack registers ts-node itself for index.ts) behind sdk.PolicyProxy, which takes the
// engine's ConfigureStack first so the pack starts with PULUMI_CONFIG, PULUMI_NODEJS_STACK, ...
// set, then proxies to the pack. The child's stdout/stderr (incl. the port line) and finally its
// exit code are streamed back as RunPluginResponse messages.
func (h *host) RunPlugin(
	req *pulumirpc.RunPluginRequest, server pulumirpc.LanguageRuntime_RunPluginServer,
) error {
	if req.GetKind() != string(apitype.AnalyzerPlugin) {
		return fmt.Errorf("this stand-in language host only runs policy packs, not %q plugins", req.GetKind())
	}
	ctx, dir := server.Context(), req.GetInfo().GetProgramDirectory()
	node, err := exec.LookPath("node")
	if err != nil {
		return fmt.Errorf("could not find node on the $PATH: %w", err)
	}
	resolve := exec.CommandContext(ctx, node, "-e", `console.log(require.resolve("@pulumi/pulumi/cmd/run-policy-pack"))`)
	resolve.Dir = dir
	runPath, err := resolve.Output()
	if err != nil {
		return fmt.Errorf("cannot find @pulumi/pulumi/cmd/run-policy-pack from %s (run npm ci)", dir)
	}
	// gRPC forbids concurrent Send on one stream; stdout and stderr are copied by separate goroutines.
	var mu sync.Mutex
	send := func(r *pulumirpc.RunPluginResponse) error {
		mu.Lock()
		defer mu.Unlock()
		return server.Send(r)
	}
	var stdout io.Writer = sendWriter(func(b []byte) error {
		return send(&pulumirpc.RunPluginResponse{Output: &pulumirpc.RunPluginResponse_Stdout{Stdout: b}})
	})
	stderr := sendWriter(func(b []byte) error {
		return send(&pulumirpc.RunPluginResponse{Output: &pulumirpc.RunPluginResponse_Stderr{Stderr: b}})
	})

	opts := req.GetInfo().GetOptions().AsMap()
	args := []string{strings.TrimSpace(string(runPath))}
	if na, ok := opts["nodeargs"].(string); ok {
		args = append(args, strings.Fields(na)...)
	}
	args = append(append(args, req.GetArgs()...), dir) // args = [engine address]; the pack dir goes last
	env := req.GetEnv()
	if len(env) == 0 {
		env = os.Environ()
	}
	if tc, ok := opts["tsconfig"].(string); ok && tc != "" {
		env = append(env, "PULUMI_NODEJS_TSCONFIG_PATH="+tc)
	}

	proxy, stdout, err := sdk.NewPolicyProxy(ctx, stdout) // prints the proxy's port for the engine
	if err != nil {
		return fmt.Errorf("could not start policy pack proxy: %w", err)
	}
	stack, err := proxy.AwaitConfiguration(ctx)
	if err != nil {
		return fmt.Errorf("could not get stack configuration: %w", err)
	}
	if stack != nil {
		cfg := ""
		if stack.GetConfig() != nil {
			b, _ := json.Marshal(stack.GetConfig())
			cfg = string(b)
		}
		for k, v := range map[string]string{
			"PULUMI_NODEJS_ORGANIZATION": stack.GetOrganization(), "PULUMI_NODEJS_PROJECT": stack.GetProject(),
			"PULUMI_NODEJS_STACK": stack.GetStack(), "PULUMI_NODEJS_DRY_RUN": strconv.FormatBool(stack.GetDryRun()),
			"PULUMI_CONFIG": cfg,
		} {
			if v != "" {
				env = append(env, k+"="+v)
			}
		}
	}

	cmd := exec.CommandContext(ctx, node, args...)
	cmd.Dir, cmd.Env, cmd.Stdout, cmd.Stderr = dir, env, stdout, stderr
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("could not run node: %w", err)
	}
	code := 0
	if err := proxy.Attach(ctx, cmd); err != nil { // waits for the pack to exit
		var ee *exec.ExitError
		if !errors.As(err, &ee) {
			return err
		}
		code = ee.ExitCode()
	}
	return send(&pulumirpc.RunPluginResponse{Output: &pulumirpc.RunPluginResponse_Exitcode{Exitcode: int32(code)}})
}

type sendWriter func([]byte) error

func (w sendWriter) Write(b []byte) (int, error) { // Send serializes b before it returns
	if err := w(b); err != nil {
		return 0, err
	}
	return len(b), nil
}
