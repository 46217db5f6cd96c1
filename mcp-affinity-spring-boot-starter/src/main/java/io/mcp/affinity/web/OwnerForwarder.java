package io.mcp.affinity.web;

import java.net.ConnectException;
import java.net.NoRouteToHostException;
import java.net.URI;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import io.mcp.affinity.core.InstanceIdentity;
import io.mcp.affinity.core.SessionId;
import io.netty.channel.ChannelOption;
import io.netty.channel.ConnectTimeoutException;
import org.jspecify.annotations.Nullable;
import org.springframework.beans.factory.ObjectProvider;
import org.springframework.cloud.gateway.config.GatewayProperties;
import org.springframework.cloud.gateway.config.HttpClientProperties;
import org.springframework.cloud.gateway.filter.NettyRoutingFilter;
import org.springframework.cloud.gateway.filter.NettyWriteResponseFilter;
import org.springframework.cloud.gateway.filter.headers.HttpHeadersFilter;
import org.springframework.cloud.gateway.route.Route;
import org.springframework.cloud.gateway.support.RouteMetadataUtils;
import org.springframework.cloud.gateway.support.ServerWebExchangeUtils;
import org.springframework.core.annotation.AnnotationAwareOrderComparator;
import org.springframework.http.HttpMethod;
import org.springframework.http.HttpStatus;
import org.springframework.http.MediaType;
import org.springframework.web.server.ResponseStatusException;
import org.springframework.web.server.ServerWebExchange;
import reactor.core.publisher.Mono;
import reactor.netty.http.client.HttpClient;

/**
 * Forwards an exchange to the instance that owns its session, through Spring Cloud Gateway's server machinery: its
 * pooled Reactor Netty client ({@link NettyRoutingFilter}, with {@link ForwardingHeadersFilter}) and its streaming
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

	private final Duration responseTimeout;

	private @Nullable ForwardSignature signature;

	private final Cache<URI, Route> routes = Caffeine.newBuilder().maximumSize(1_000).build();

	private final Cache<URI, Route> streamRoutes = Caffeine.newBuilder().maximumSize(1_000).build();

	/**
	 * Creates a forwarder.
	 * @param httpClient the client to the owners, e.g. built by the gateway's {@code HttpClientFactory} from its
	 * {@code httpclient} properties
	 * @param additionalHeadersFilters header filters applied besides the forward's own ({@link ForwardingHeadersFilter}),
	 * such as the gateway's observation filters
	 * @param trustedProxies regular expression of the client addresses trusted to set {@code X-Forwarded-*}
	 * @param self this instance: forwarded requests are marked with its epoch
	 * @param connectTimeout how long to wait for a connection to the owner
	 * @param responseTimeout how long to wait for the owner's response headers (not for a streamed body)
	 */
	public OwnerForwarder(HttpClient httpClient, List<HttpHeadersFilter> additionalHeadersFilters, String trustedProxies,
			InstanceIdentity self, Duration connectTimeout, Duration responseTimeout) {
		List<HttpHeadersFilter> filters = new ArrayList<>(additionalHeadersFilters);
		filters.add(ForwardingHeadersFilter.forRequests(trustedProxies));
		filters.add(ForwardingHeadersFilter.forResponses());
		AnnotationAwareOrderComparator.sort(filters);
		List<HttpHeadersFilter> headersFilters = List.copyOf(filters);
		ObjectProvider<List<HttpHeadersFilter>> headersFiltersProvider = new ObjectProvider<>() {

			@Override
			public List<HttpHeadersFilter> getObject() {
				return headersFilters;
			}

		};
		// The connect timeout set once on the client: as route metadata, the gateway would copy the client per request.
		HttpClient client = httpClient.option(ChannelOption.CONNECT_TIMEOUT_MILLIS,
				Math.toIntExact(connectTimeout.toMillis()));
		this.routingFilter = new NettyRoutingFilter(client, headersFiltersProvider, new HttpClientProperties());
		List<MediaType> streaming = new ArrayList<>(new GatewayProperties().getStreamingMediaTypes());
		streaming.add(MediaType.APPLICATION_NDJSON);
		this.writeFilter = new NettyWriteResponseFilter(streaming, headersFiltersProvider);
		this.selfEpoch = self.epoch();
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
		String pathAndQuery = SessionRouting.pathAndQuery(incoming);
		URI address = owner.address();
		URI target = URI.create(address.getScheme() + "://" + address.getRawAuthority() + pathAndQuery);
		ForwardSignature signer = this.signature;
		String signature = (signer != null) ? signer.sign(exchange.getRequest().getMethod().name(), pathAndQuery,
				sessionId.value(), this.selfEpoch) : null;
		// The marks are written by ForwardingHeadersFilter in its pass over the headers: no copy of the request here.
		exchange.getAttributes()
			.put(ForwardingHeadersFilter.MARKS_ATTRIBUTE, new ForwardedHeaderRules.Marks(this.selfEpoch, signature));
		// A GET opens an SSE stream whose headers may wait for its first event: no response timeout there.
		boolean stream = HttpMethod.GET.equals(exchange.getRequest().getMethod());
		exchange.getAttributes().put(ServerWebExchangeUtils.GATEWAY_ROUTE_ATTR, route(owner.address(), stream));
		exchange.getAttributes().put(ServerWebExchangeUtils.GATEWAY_REQUEST_URL_ATTR, target);
		// The routing filter calls its chain once the owner's headers are in; the write filter then relays the body.
		return Mono.deferContextual((context) -> {
			// Where the gateway's observation header filter finds the server observation, to continue its trace.
			exchange.getAttributes().put(ServerWebExchangeUtils.GATEWAY_REACTOR_CONTEXT_ATTR, context);
			return this.writeFilter.filter(exchange,
					(written) -> this.routingFilter.filter(written, (routed) -> Mono.fromRunnable(onResponseHeaders)));
		});
	}

	private Route route(URI owner, boolean stream) {
		return (stream ? this.streamRoutes : this.routes).get(owner, (uri) -> Route.async()
			.id("mcp-affinity-forward")
			.uri(uri)
			.predicate((exchange) -> true)
			// -1 switches the gateway's response timeout off.
			.metadata(RouteMetadataUtils.RESPONSE_TIMEOUT_ATTR, stream ? -1L : this.responseTimeout.toMillis())
			.build());
	}

	/**
	 * Whether a forwarding error means the owner is gone (connection refused, or no route): its sessions are then as
	 * good as gone. A connection that was not accepted in time is not that (see {@link #isConnectTimeout}).
	 * @param error the error
	 * @return whether the owner could not be reached
	 */
	public static boolean isUnreachable(Throwable error) {
		for (Throwable t = error; t != null; t = t.getCause()) {
			if (t instanceof ConnectTimeoutException) {
				return false;
			}
			if (t instanceof ConnectException || t instanceof NoRouteToHostException) {
				return true;
			}
		}
		return false;
	}

	/**
	 * Whether a forwarding error is a connection the owner did not accept in time: a live but overloaded instance
	 * looks like that too, so its sessions are kept (an instance that is really gone stops renewing its heartbeat,
	 * and its sessions are then removed as stale).
	 * @param error the error
	 * @return whether the connection attempt timed out
	 */
	public static boolean isConnectTimeout(Throwable error) {
		for (Throwable t = error; t != null; t = t.getCause()) {
			if (t instanceof ConnectTimeoutException) {
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
