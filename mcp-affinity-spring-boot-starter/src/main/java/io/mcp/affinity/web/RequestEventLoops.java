package io.mcp.affinity.web;

import io.netty.channel.EventLoop;
import org.jspecify.annotations.Nullable;
import org.springframework.http.server.reactive.ServerHttpRequest;
import org.springframework.http.server.reactive.ServerHttpRequestDecorator;
import reactor.netty.Connection;

/**
 * The event loop a request's connection is served on, for the parts of a forward that work best on that same thread
 * ({@link EventLoopClients}, {@link EventLoopTimers}).
 */
final class RequestEventLoops {

	private RequestEventLoops() {
	}

	/**
	 * The event loop of a request.
	 * @param request the request, as the server adapter or any decorator of it gives it
	 * @return its connection's event loop, or {@code null} for a request not served by Reactor Netty
	 */
	static @Nullable EventLoop of(ServerHttpRequest request) {
		Object nativeRequest = ServerHttpRequestDecorator.getNativeRequest(request);
		return (nativeRequest instanceof Connection connection) ? connection.channel().eventLoop() : null;
	}

}
