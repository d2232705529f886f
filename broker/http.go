package broker

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/pprof"
	"net/url"
	"sort"
	"strings"

	"github.com/gorilla/websocket"
	"github.com/mochi-mqtt/server/v2/packets"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/outpost-iot/outpost/broker/auth"
)

type ctxKey struct{}

// IdentityFrom returns who made an HTTP request that passed the gateway's
// authentication. On an open gateway everyone is an admin.
func IdentityFrom(ctx context.Context) (auth.Identity, bool) {
	id, ok := ctx.Value(ctxKey{}).(auth.Identity)
	return id, ok
}

// handler is the HTTP port: /healthz (always open), /metrics, /mqtt, /admin/
// and the routes later layers mount, each behind authentication.
func (s *Server) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	authed := http.NewServeMux()
	authed.Handle("GET /metrics", promhttp.HandlerFor(s.opts.Registry, promhttp.HandlerOpts{}))
	authed.HandleFunc("/mqtt", s.serveMQTTWebSocket)
	authed.Handle("/admin/", s.requireAdmin(s.adminHandler()))
	reserved := map[string]string{
		"/agents/": "agents are not available on this gateway yet",
		"/v1/":     "the inference API is not available on this gateway yet",
	}
	if _, mounted := s.routes["/agents/"]; s.opts.Agents != nil && !mounted {
		delete(reserved, "/agents/")
		authed.HandleFunc("/agents/", s.serveAgent)
	}
	for pattern, msg := range reserved {
		if _, ok := s.routes[pattern]; !ok {
			authed.HandleFunc(pattern, func(w http.ResponseWriter, _ *http.Request) {
				writeError(w, http.StatusNotImplemented, msg)
			})
		}
	}
	for pattern, h := range s.routes {
		authed.Handle(pattern, h)
	}
	mux.Handle("/", s.authenticate(authed))
	return mux
}

// authenticate admits a request with valid basic-auth credentials or a
// bearer token, or an anonymous one where that is allowed. /mqtt passes
// without HTTP credentials: browsers cannot set headers on a WebSocket, so
// MQTT over WebSocket authenticates in its CONNECT packet like MQTT over TCP.
func (s *Server) authenticate(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if s.opts.Agents != nil && isAgentPreflight(r) {
			s.corsPreflight(w, r)
			return
		}
		store := s.store.Load()
		var id auth.Identity
		switch {
		case store == nil:
			id = auth.Identity{Admin: true}
		case r.Header.Get("Authorization") != "":
			var err error
			if user, pass, ok := r.BasicAuth(); ok {
				id, err = store.Authenticate(user, pass)
			} else if tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer "); ok {
				id, err = store.AuthenticateToken(strings.TrimSpace(tok))
			} else {
				err = auth.ErrBadCredentials
			}
			if err != nil {
				s.log.Warn("http authentication failed", "remote", r.RemoteAddr, "path", r.URL.Path)
				challenge(w)
				return
			}
		case strings.HasPrefix(r.URL.Path, "/agents/") && websocket.IsWebSocketUpgrade(r) && r.URL.Query().Has("token"):
			// Browsers cannot set headers on a WebSocket: the agents
			// endpoint also takes an API token in the query (rule 8.1),
			// which is removed before the agent sees the request.
			q := r.URL.Query()
			var err error
			if id, err = store.AuthenticateToken(q.Get("token")); err != nil {
				s.log.Warn("websocket token authentication failed", "remote", r.RemoteAddr, "path", r.URL.Path)
				challenge(w)
				return
			}
			q.Del("token")
			r = r.Clone(r.Context())
			r.URL.RawQuery = q.Encode()
		case r.URL.Path == "/mqtt" || s.cfg.AllowAnonymous:
			id = auth.Identity{Anonymous: true}
		default:
			challenge(w)
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, id)))
	})
}

func challenge(w http.ResponseWriter) {
	w.Header().Set("WWW-Authenticate", `Basic realm="outpost", charset="UTF-8"`)
	writeError(w, http.StatusUnauthorized, "not authorized: send basic auth credentials or a bearer token")
}

func (s *Server) requireAdmin(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id, _ := IdentityFrom(r.Context())
		if !id.Admin {
			writeError(w, http.StatusForbidden, "forbidden: admin routes need an admin user")
			return
		}
		next.ServeHTTP(w, r)
	})
}

func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, map[string]string{"error": msg})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// CheckOrigin is the Origin policy for every WebSocket on the HTTP port:
// requests without an Origin header are not from a browser and pass; a
// browser's origin must be in allowed_origins, or be this very host when
// the list is empty. Mochi's own WebSocket listener accepts every origin,
// which lets any web page a user visits reach the broker.
func (s *Server) CheckOrigin(r *http.Request) bool {
	origin := r.Header.Get("Origin")
	if origin == "" {
		return true
	}
	if len(s.cfg.AllowedOrigins) == 0 {
		u, err := url.Parse(origin)
		return err == nil && strings.EqualFold(u.Host, r.Host)
	}
	for _, o := range s.cfg.AllowedOrigins {
		if o == "*" || strings.EqualFold(strings.TrimSuffix(o, "/"), origin) {
			return true
		}
	}
	return false
}

// upgrade checks the Origin and upgrades to a WebSocket; nil means the
// request was answered (403, or the upgrader's error).
func (s *Server) upgrade(w http.ResponseWriter, r *http.Request, subprotocols []string) *websocket.Conn {
	if !s.CheckOrigin(r) {
		s.log.Warn("websocket origin refused", "origin", r.Header.Get("Origin"), "remote", r.RemoteAddr, "path", r.URL.Path)
		writeError(w, http.StatusForbidden, "origin not allowed: add it to allowed_origins")
		return nil
	}
	up := websocket.Upgrader{
		Subprotocols:    subprotocols,
		CheckOrigin:     func(*http.Request) bool { return true }, // checked above
		ReadBufferSize:  4096,
		WriteBufferSize: 4096,
	}
	ws, err := up.Upgrade(w, r, nil)
	if err != nil {
		return nil // the upgrader has answered
	}
	return ws
}

// serveMQTTWebSocket upgrades /mqtt and hands the connection to the broker
// (MQTT over WebSockets, MQTT 5 §6: binary frames, subprotocol "mqtt").
func (s *Server) serveMQTTWebSocket(w http.ResponseWriter, r *http.Request) {
	ws := s.upgrade(w, r, []string{"mqtt", "mqttv3.1"})
	if ws == nil {
		return
	}
	ws.SetReadLimit(int64(s.cfg.MQTTMaxFrame + PacketOverhead))
	s.wsLn.serveConn(newWSConn(ws, s.wsLn.metrics))
}

// clientInfo is one row of GET /admin/clients.
type clientInfo struct {
	ID            string `json:"id"`
	Username      string `json:"username,omitempty"`
	Listener      string `json:"listener"`
	Remote        string `json:"remote,omitempty"`
	Protocol      byte   `json:"protocol_version"`
	Connected     bool   `json:"connected"`
	Subscriptions int    `json:"subscriptions"`
	Inflight      int    `json:"inflight"`
}

// adminHandler is the JSON admin API: clients, stats, disconnects, reload.
func (s *Server) adminHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /admin/clients", func(w http.ResponseWriter, _ *http.Request) {
		out := []clientInfo{}
		for _, cl := range s.mqtt.Clients.GetAll() {
			if cl.Net.Inline {
				continue
			}
			out = append(out, clientInfo{
				ID: cl.ID, Username: string(cl.Properties.Username), Listener: cl.Net.Listener, Remote: cl.Net.Remote,
				Protocol: cl.Properties.ProtocolVersion, Connected: cl.Net.Conn != nil && !cl.Closed(),
				Subscriptions: len(cl.State.Subscriptions.GetAll()), Inflight: cl.State.Inflight.Len(),
			})
		}
		sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
		writeJSON(w, http.StatusOK, out)
	})
	mux.HandleFunc("DELETE /admin/clients/{id}", func(w http.ResponseWriter, r *http.Request) {
		cl, ok := s.mqtt.Clients.Get(r.PathValue("id"))
		if !ok || cl.Net.Inline || cl.Net.Conn == nil || cl.Closed() {
			writeError(w, http.StatusNotFound, "no connected client with that id")
			return
		}
		_ = s.mqtt.DisconnectClient(cl, packets.ErrAdministrativeAction)
		w.WriteHeader(http.StatusNoContent)
	})
	mux.HandleFunc("GET /admin/stats", func(w http.ResponseWriter, _ *http.Request) {
		writeJSON(w, http.StatusOK, s.mqtt.Info.Clone())
	})
	// Go's profiler, for admins diagnosing a live gateway.
	mux.HandleFunc("GET /admin/debug/pprof/", func(w http.ResponseWriter, r *http.Request) {
		r.URL.Path = strings.Replace(r.URL.Path, "/admin/debug/pprof/", "/debug/pprof/", 1)
		pprof.Index(w, r)
	})
	mux.HandleFunc("GET /admin/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("GET /admin/debug/pprof/trace", pprof.Trace)
	mux.HandleFunc("GET /admin/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("POST /admin/reload", func(w http.ResponseWriter, _ *http.Request) {
		if err := s.Reload(); err != nil {
			writeError(w, http.StatusUnprocessableEntity, err.Error())
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "reloaded"})
	})
	return mux
}
