package main

import (
	"encoding/json"
	"errors"
	"net/http"

	"github.com/outpost-iot/outpost/agenthost"
	"github.com/outpost-iot/outpost/broker"
	"github.com/outpost-iot/outpost/wire"
)

// mountAgentsAdmin serves the agents admin API on the HTTP port, for admin
// users only (docs/protocol.md rule 10.1):
//
//	GET    /admin/agents                 every agent, awake or hibernated
//	GET    /admin/agents/{class}/{name}  one agent: connections, schedules, queue, callables, state
//	DELETE /admin/agents/{class}/{name}  destroy it
func mountAgentsAdmin(b *broker.Server, host *agenthost.Host) {
	admin := func(h http.HandlerFunc) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if id, ok := broker.IdentityFrom(r.Context()); !ok || !id.Admin {
				writeJSONError(w, http.StatusForbidden, "admin access required")
				return
			}
			h(w, r)
		})
	}
	b.Handle("GET /admin/agents", admin(func(w http.ResponseWriter, r *http.Request) {
		list, err := host.List()
		if err != nil {
			writeJSONError(w, http.StatusInternalServerError, err.Error())
			return
		}
		writeJSONValue(w, http.StatusOK, list)
	}))
	addr := func(r *http.Request) wire.Address {
		return wire.Address{Class: r.PathValue("class"), Name: r.PathValue("name")}
	}
	b.Handle("GET /admin/agents/{class}/{name...}", admin(func(w http.ResponseWriter, r *http.Request) {
		info, err := host.Inspect(addr(r))
		if err != nil {
			writeJSONError(w, adminStatus(err), err.Error())
			return
		}
		writeJSONValue(w, http.StatusOK, info)
	}))
	b.Handle("DELETE /admin/agents/{class}/{name...}", admin(func(w http.ResponseWriter, r *http.Request) {
		a := addr(r)
		if err := host.Destroy(a); err != nil {
			writeJSONError(w, adminStatus(err), err.Error())
			return
		}
		writeJSONValue(w, http.StatusOK, map[string]any{"destroyed": a.Class + "/" + a.Name})
	}))
}

func adminStatus(err error) int {
	switch {
	case errors.Is(err, agenthost.ErrNoAgent), errors.Is(err, wire.ErrUnknownAgent):
		return http.StatusNotFound
	case errors.Is(err, wire.ErrClosed), errors.Is(err, wire.ErrBusy):
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

func writeJSONValue(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

func writeJSONError(w http.ResponseWriter, code int, msg string) {
	writeJSONValue(w, code, map[string]string{"error": msg})
}
