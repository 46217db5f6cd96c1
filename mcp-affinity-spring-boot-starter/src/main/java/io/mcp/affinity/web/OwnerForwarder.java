package io.mcp.affinity.web;

import java.net.ConnectException;
import java.net.NoRouteToHostException;
import java.net.URI;
import java.time.Duration;
import java.util.Objects;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import io.mcp.affinity.core.InstanceIdentity;
import io.mcp.affinity.core.SessionId;
import org.jspecify.annotations.Nullable;
import org.springframework.cloud.gateway.filter.NettyRoutingFilter;
import org.springframework.cloud.gateway.filter.NettyWriteResponseFilter;
import org.springframework.cloud.gateway.route.Route;
import org.springframework.cloud.gateway.support.RouteMetadataUtils;
import org.springframework.cloud.gateway.support.ServerWebExchangeUtils;
import org.springframework.http.HttpMethod;
import org.springframework.http.HttpStatus;
import org.springframework.web.server.ResponseStatusException;
import org.springframework.web.server.ServerWebExchange;
import org.springframework.web.util.UriComponentsBuilder;
import reactor.core.publisher.Mono;

/**
 * Forwards an exchange to the instance that owns its session, through Spring Cloud Gateway's server machinery: its
 * pooled Reactor Netty client ({@link NettyRoutingFilter}, with the gateway's header filters) and its streaming
 * response writer ({@link NettyWriteResponseFilter}). Nothing is buffered: the request body streams to the owner as
 * it arrives and an SSE response streams back event by event, flushed as it comes. When the client goes away, the
 * upstream connection is closed.
 * <p>
 * No gateway route is defined: each forward carries a synthetic route that exists only on its exchange, so an
 * application that uses the gateway for other things sees no change.
 */
public final class OwnerForwarder {

	private final NettyRoutingFilter routingFilter;

	private final NettyWriteResponseFilter writeFilter;

	private final String selfEpoch;

	private final Duration connectTimeout;

	private final Duration responseTimeout;

	private @Nullable ForwardSignature signature;

	private final Cache<URI, Route> routes = Caffeine.newBuilder().maximumSize(1_000).build();

	private final Cache<URI, Route> streamRoutes = Caffeine.newBuilder().maximumSize(1_000).build();

	/**
	 * Creates a forwarder.
	 * @param routingFilter the gateway's routing filter, over the HTTP client and header filters to use
	 * @param writeFilter the gateway's response writer
	 * @param self this instance: forwarded requests are marked with its epoch
	 * @param connectTimeout how long to wait for a connection to the owner
	 * @param responseTimeout how long to wait for the owner's response headers (not for a streamed body)
	 */
	public OwnerForwarder(NettyRoutingFilter routingFilter, NettyWriteResponseFilter writeFilter, InstanceIdentity self,
			Duration connectTimeout, Duration responseTimeout) {
		this.routingFilter = Objects.requireNonNull(routingFilter, "routingFilter must not be null");
		this.writeFilter = Objects.requireNonNull(writeFilter, "writeFilter must not be null");
		this.selfEpoch = self.epoch();
		this.connectTimeout = connectTimeout;
		this.responseTimeout = responseTimeout;
	}

	/**
	 * Signs every forward from now on, so receivers can reject requests that only claim to be forwarded.
	 * @param signature the signer
	 */
	public void setSignature(ForwardSignature signature) {
		this.signature = signature;
	}

	/** The signer of forwards, which receivers verify with: {@code null} when forwards are not signed. */
	public @Nullable ForwardSignature getSignature() {
		return this.signature;
	}

	/**
	 * Forwards the exchange to the owner and streams the owner's response back.
	 * @param exchange the exchange, with nothing read from its body and nothing written to its response
	 * @param owner the owning instance
	 * @param onResponseHeaders called when the owner's response headers have arrived, before the body is relayed
	 * @return completion when the whole response has been relayed; {@link ConnectException} (or a subclass) when the
	 * owner could not be reached, a 504 {@link ResponseStatusException} when it sent no headers in time
	 */
	public Mono<Void> forward(ServerWebExchange exchange, SessionId sessionId, InstanceIdentity owner,
			Runnable onResponseHeaders) {
		URI incoming = exchange.getRequest().getURI();
		URI target = UriComponentsBuilder.fromUri(incoming)
			.scheme(owner.address().getScheme())
			.host(owner.address().getHost())
			.port(owner.address().getPort())
			.build(ServerWebExchangeUtils.containsEncodedParts(incoming))
			.toUri();
		ForwardSignature signer = this.signature;
		ServerWebExchange forwarded = exchange.mutate().request((request) -> request.headers((headers) -> {
			headers.set(McpHttpHeaders.FORWARDED_BY, this.selfEpoch);
			headers.remove(McpHttpHeaders.SIGNATURE);
			if (signer != null) {
				headers.set(McpHttpHeaders.SIGNATURE, signer.sign(exchange.getRequest().getMethod().name(),
						pathAndQuery(incoming), sessionId.value(), this.selfEpoch));
			}
		})).build();
		// A GET opens an SSE stream whose headers may wait for its first event: no response timeout there.
		boolean stream = HttpMethod.GET.equals(exchange.getRequest().getMethod());
		forwarded.getAttributes().put(ServerWebExchangeUtils.GATEWAY_ROUTE_ATTR, route(owner.address(), stream));
		forwarded.getAttributes().put(ServerWebExchangeUtils.GATEWAY_REQUEST_URL_ATTR, target);
		// The routing filter calls its chain once the owner's headers are in; the write filter then relays the body.
		return Mono.deferContextual((context) -> {
			// Where the gateway's observation header filter finds the server observation, to continue its trace.
			forwarded.getAttributes().put(ServerWebExchangeUtils.GATEWAY_REACTOR_CONTEXT_ATTR, context);
			return this.writeFilter.filter(forwarded,
					(written) -> this.routingFilter.filter(written, (routed) -> Mono.fromRunnable(onResponseHeaders)));
		});
	}

	/** The raw path and query of a request, as signed and verified. */
	static String pathAndQuery(URI uri) {
		String query = uri.getRawQuery();
		return (query != null) ? uri.getRawPath() + "?" + query : uri.getRawPath();
	}

	private Route route(URI owner, boolean stream) {
		return (stream ? this.streamRoutes : this.routes).get(owner, (uri) -> Route.async()
			.id("mcp-affinity-forward")
			.uri(uri)
			.predicate((exchange) -> true)
			.metadata(RouteMetadataUtils.CONNECT_TIMEOUT_ATTR, Math.toIntExact(this.connectTimeout.toMillis()))
			// -1 switches the gateway's response timeout off.
			.metadata(RouteMetadataUtils.RESPONSE_TIMEOUT_ATTR, stream ? -1L : this.responseTimeout.toMillis())
			.build());
	}

	/**
	 * Whether a forwarding error means the owner is unreachable (refused, or no connection in time): its sessions are
	 * then as good as gone.
	 * @param error the error
	 * @return whether the owner could not be reached
	 */
	public static boolean isUnreachable(Throwable error) {
		for (Throwable t = error; t != null; t = t.getCause()) {
			if (t instanceof ConnectException || t instanceof NoRouteToHostException) {
				return true;
			}
		}
		return false;
	}

	/**
	 * Whether a forwarding error is the owner's response timeout.
	 * @param error the error
	 * @return whether the owner sent no response headers in time
	 */
	public static boolean isTimeout(Throwable error) {
		return error instanceof ResponseStatusException ex && ex.getStatusCode() == HttpStatus.GATEWAY_TIMEOUT;
	}

}
