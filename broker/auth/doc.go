// Package auth is Outpost's credential store: users with bcrypt (or argon2id)
// password hashes, API tokens kept as SHA-256 digests, and per-user access
// rules over MQTT topics and agents.
//
// The flow: [Load] reads the credentials file into an immutable [Store];
// [Store.Authenticate] checks a username and a password or token (MQTT
// CONNECT, HTTP basic auth) and [Store.AuthenticateToken] checks a bearer
// token. Access questions ([Store.CanPublish], [Store.CanSubscribe],
// [Store.CanRead], [Store.CanReachAgent]) take the username and client id
// and are answered from the store's current rules, with %u and %c
// substituted. A reload builds a new Store and swaps it in: connections stay
// up and their next check uses the new rules, so a removed user loses access
// at once. The `outpost passwd` command edits a [File] and writes it back
// with [File.Save].
package auth
