package io.mcp.affinity.autoconfigure;

import java.util.List;

import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLSessionContext;

import io.netty.buffer.ByteBufAllocator;
import io.netty.handler.ssl.ApplicationProtocolNegotiator;
import io.netty.handler.ssl.SslContext;

/**
 * A client {@link SslContext} whose every engine, so every new connection, comes from the forwarding bundle's current
 * version ({@link ForwardingTls}). Reactor Netty keeps one context per client for the client's life, and the
 * WebFlux forwarder keeps its clients (one per event loop, each with its pooled connections): following the bundle
 * here leaves both as they are.
 */
final class FollowingSslContext extends SslContext {

	private final ForwardingTls<SslContext> tls;

	FollowingSslContext(ForwardingTls<SslContext> tls) {
		this.tls = tls;
	}

	@Override
	public boolean isClient() {
		return true;
	}

	@Override
	public List<String> cipherSuites() {
		return this.tls.get().cipherSuites();
	}

	@Override
	@SuppressWarnings("deprecation")
	public ApplicationProtocolNegotiator applicationProtocolNegotiator() {
		return this.tls.get().applicationProtocolNegotiator();
	}

	@Override
	public SSLEngine newEngine(ByteBufAllocator alloc) {
		return this.tls.get().newEngine(alloc);
	}

	@Override
	public SSLEngine newEngine(ByteBufAllocator alloc, String peerHost, int peerPort) {
		return this.tls.get().newEngine(alloc, peerHost, peerPort);
	}

	@Override
	public SSLSessionContext sessionContext() {
		return this.tls.get().sessionContext();
	}

}
