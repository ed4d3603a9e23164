// authz-eval evaluates an AuthPolicy's CEL expressions and inline Rego the way Authorino does,
// with the same libraries (cel-go, OPA) at the versions Authorino pins, for the end-to-end tests.
//
// stdin, one JSON document:
//
//	{"cel": {"name": "expr", ...}, "rego": "<rules>" | null, "regoVersion": "v0" | "v1", "input": {...},
//	 "jwt": {"issuerUrl": "https://...", "token": "<jwt>"}}   (jwt optional)
//
// stdout:
//
//	{"cel": {"name": <value> | {"error": "..."}}, "rego": {<rule>: <value>, ...} | {"error": "..."} | null,
//	 "jwt": {"claims": {...}} | {"error": "..."} | null}
//
// The JWT step trusts the CAs of SSL_CERT_FILE (Go's own rule), so a test CA needs no code here.
//
// "input" is Authorino's authorization JSON ({"auth": ..., "request": ..., ...}): the CEL
// variables and the Rego `input`. What is mimicked from Authorino (pkg/expressions/cel and
// pkg/evaluators/authorization/opa.go) is said at each step below.
package main

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"reflect"
	"regexp"
	"strings"

	"github.com/coreos/go-oidc/v3/oidc"
	"github.com/google/cel-go/cel"
	"github.com/google/cel-go/checker/decls"
	"github.com/google/cel-go/common/types/ref"
	"github.com/google/cel-go/ext"
	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/structpb"
)

type request struct {
	CEL         map[string]string `json:"cel"`
	Rego        *string           `json:"rego"`
	RegoVersion string            `json:"regoVersion"`
	Input       json.RawMessage   `json:"input"`
	JWT         *jwtRequest       `json:"jwt"`
}

type jwtRequest struct {
	IssuerURL string `json:"issuerUrl"`
	Token     string `json:"token"`
}

type response struct {
	CEL  map[string]any `json:"cel"`
	Rego any            `json:"rego"`
	JWT  any            `json:"jwt"`
}

type evalError struct {
	Error string `json:"error"`
}

func errorOf(err error) evalError { return evalError{Error: err.Error()} }

func main() {
	raw, err := io.ReadAll(os.Stdin)
	if err != nil {
		fail(err)
	}
	var req request
	if err := json.Unmarshal(raw, &req); err != nil {
		fail(fmt.Errorf("stdin is not the expected JSON document: %w", err))
	}
	if len(req.Input) == 0 || string(req.Input) == "null" {
		req.Input = json.RawMessage("{}")
	}
	res := response{CEL: map[string]any{}}
	for name, expr := range req.CEL {
		if v, err := evalCEL(expr, req.Input); err != nil {
			res.CEL[name] = errorOf(err)
		} else {
			res.CEL[name] = v
		}
	}
	if req.Rego != nil {
		if v, err := evalRego(*req.Rego, req.RegoVersion, req.Input); err != nil {
			res.Rego = errorOf(err)
		} else {
			res.Rego = v
		}
	}
	if req.JWT != nil {
		if claims, err := verifyJWT(req.JWT.IssuerURL, req.JWT.Token); err != nil {
			res.JWT = errorOf(err)
		} else {
			res.JWT = map[string]any{"claims": claims}
		}
	}
	out := json.NewEncoder(os.Stdout)
	out.SetEscapeHTML(false)
	if err := out.Encode(res); err != nil {
		fail(err)
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "authz-eval:", err)
	os.Exit(2)
}

// --- CEL: Authorino's pkg/expressions/cel (Compile, AuthJsonToCel, ValueToJSON) -------------

// The root bindings Authorino declares, each a google.protobuf.Struct.
var celRoots = []string{"metadata", "request", "source", "destination", "auth"}

func celEnv() (*cel.Env, error) {
	opts := make([]cel.EnvOption, 0, len(celRoots)+2)
	for _, r := range celRoots {
		// As Authorino: decls.NewConst(name, google.protobuf.Struct, nil), i.e. a typed identifier
		// whose value comes from the activation.
		opts = append(opts, cel.Declarations(decls.NewConst(r, decls.NewObjectType("google.protobuf.Struct"), nil)))
	}
	// Standard library (cel.NewEnv's default), plus ext.Strings() and optional types, as Authorino.
	return cel.NewEnv(append(opts, ext.Strings(), cel.OptionalTypes())...)
}

func evalCEL(expr string, input json.RawMessage) (json.RawMessage, error) {
	env, err := celEnv()
	if err != nil {
		return nil, err
	}
	parsed, iss := env.Parse(expr)
	if iss.Err() != nil {
		return nil, iss.Err()
	}
	checked, iss := env.Check(parsed)
	if iss.Err() != nil {
		return nil, iss.Err()
	}
	prg, err := env.Program(checked)
	if err != nil {
		return nil, err
	}
	// As AuthJsonToCel: the JSON read into a structpb.Struct by protojson; each root is its
	// *structpb.Value (nil when absent).
	data := structpb.Struct{}
	if err := protojson.Unmarshal(input, &data); err != nil {
		return nil, fmt.Errorf("input: %w", err)
	}
	act := map[string]any{}
	for _, r := range celRoots {
		act[r] = data.GetFields()[r]
	}
	val, _, err := prg.Eval(act)
	if err != nil {
		return nil, err
	}
	return celToJSON(val)
}

// As ValueToJSON: the value converted to a structpb.Value and written by protojson.
func celToJSON(val ref.Val) (json.RawMessage, error) {
	v, err := val.ConvertToNative(reflect.TypeOf(&structpb.Value{}))
	if err != nil {
		return nil, err
	}
	b, err := protojson.MarshalOptions{Multiline: false}.Marshal(v.(proto.Message))
	if err != nil {
		return nil, err
	}
	return json.RawMessage(b), nil
}

// --- Rego: Authorino's pkg/evaluators/authorization/opa.go (precompilePolicy, Call) ----------

// Authorino's template: its own package, a default for `allow`, then the user's rules.
const policyTemplate = `package %s
default allow = false
%s`

func evalRego(body, version string, input json.RawMessage) (map[string]any, error) {
	var rv ast.RegoVersion
	switch version {
	case "", "v0": // the AuthConfig's default (opa.version: v0)
		rv = ast.RegoV0
	case "v1":
		rv = ast.RegoV1
	default:
		return nil, fmt.Errorf("unsupported OPA Rego version: %s", version)
	}
	// cleanUpRegoDocument: any package line of the user's is dropped.
	body = regexp.MustCompile(`(\s)*package.*[;\n]+`).ReplaceAllString(body, "")
	uid := fmt.Sprintf("%x", sha256.Sum256([]byte("0|authz-eval|"+body)))
	pkg := fmt.Sprintf(`authorino.authz["%s"]`, uid)
	module, err := ast.ParseModuleWithOpts(uid+".rego", fmt.Sprintf(policyTemplate, pkg, body),
		ast.ParserOptions{RegoVersion: rv})
	if err != nil {
		return nil, err
	}
	// allValues: true (as the stack's AuthPolicy sets): one binding per rule name, `allow` first,
	// each `name = object.get(data.<pkg>, "name", null)`.
	names := []string{"allow"}
	seen := map[string]bool{"allow": true}
	for _, r := range module.Rules {
		if n := string(r.Head.Name); n != "" && !seen[n] {
			names, seen[n] = append(names, n), true
		}
	}
	queries := make([]string, len(names))
	for i, n := range names {
		queries[i] = fmt.Sprintf(`%s = object.get(data.%s, "%s", null)`, n, pkg, n)
	}
	ctx := context.Background()
	prepared, err := rego.New(
		rego.Query(strings.Join(queries, ";")),
		rego.ParsedModule(module),
		rego.SetRegoVersion(rv),
	).PrepareForEval(ctx)
	if err != nil {
		return nil, err
	}
	// As Call: the authorization JSON decoded by encoding/json is the input.
	var in any
	if err := json.Unmarshal(input, &in); err != nil {
		return nil, err
	}
	rs, err := prepared.Eval(ctx, rego.EvalInput(in))
	if err != nil {
		return nil, err
	}
	if len(rs) == 0 {
		return nil, fmt.Errorf("invalid response from policy evaluation")
	}
	// Authorino denies unless `allow` is true; here the bindings are returned as they are and
	// the caller reads `allow`.
	out := map[string]any{}
	for _, n := range names {
		out[n] = rs[0].Bindings[n]
	}
	return out, nil
}

// --- JWT: Authorino's pkg/evaluators/identity/jwt.go (oidcProviderVerifier.Verify) ------------

// As Authorino's tokenVerifierConfig: audience and issuer claims are left to the policy's own rules
// (oidc.NewProvider has already checked that discovery names the issuer URL it was given); the
// signature against the issuer's JWKS, and expiry, are checked.
var tokenVerifierConfig = &oidc.Config{SkipClientIDCheck: true, SkipIssuerCheck: true}

func verifyJWT(issuerURL, raw string) (map[string]any, error) {
	ctx := context.Background()
	provider, err := oidc.NewProvider(ctx, issuerURL)
	if err != nil {
		return nil, err
	}
	token, err := provider.Verifier(tokenVerifierConfig).Verify(ctx, raw)
	if err != nil {
		return nil, err
	}
	claims := map[string]any{}
	if err := token.Claims(&claims); err != nil {
		return nil, err
	}
	return claims, nil
}
