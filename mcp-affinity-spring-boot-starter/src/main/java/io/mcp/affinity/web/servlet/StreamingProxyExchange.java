package io.mcp.affinity.web.servlet;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.URI;
import java.util.Objects;

import jakarta.servlet.ServletInputStream;
import org.springframework.cloud.gateway.server.mvc.common.AbstractProxyExchange;
import org.springframework.cloud.gateway.server.mvc.common.MvcUtils;
import org.springframework.cloud.gateway.server.mvc.config.GatewayMvcProperties;
import org.springframework.cloud.gateway.server.mvc.handler.ClientHttpRequestFactoryProxyExchange;
import org.springframework.cloud.gateway.server.mvc.handler.GatewayServerResponse;
import org.springframework.cloud.gateway.server.mvc.handler.ProxyExchange;
import org.springframework.cloud.gateway.server.mvc.handler.RestClientProxyExchange;
import org.springframework.http.HttpHeaders;
import org.springframework.http.HttpStatusCode;
import org.springframework.http.StreamingHttpOutputMessage;
import org.springframework.http.client.ClientHttpRequest;
import org.springframework.http.client.ClientHttpResponse;
import org.springframework.http.client.HttpComponentsClientHttpRequestFactory;
import org.springframework.util.StreamUtils;
import org.springframework.web.servlet.function.ServerResponse;

/**
 * The Web MVC gateway's proxy exchange made on Spring's request factory directly: what {@link RestClientProxyExchange}
 * does, without the {@code RestClient} around the request. The forward needs none of it when nothing traces requests
 * (the client's observation is what writes the trace headers), and it cost about 3% of a servlet forward's CPU, among
 * it one more copy of the request's headers. The gateway's own
 * {@link ClientHttpRequestFactoryProxyExchange} would do the same but writes the request body into the request's
 * buffer before sending it; here the body streams to the owner as it arrives, as through the {@code RestClient}.
 */
public final class StreamingProxyExchange extends AbstractProxyExchange {

	private final HttpComponentsClientHttpRequestFactory requestFactory;

	/**
	 * Creates the exchange.
	 * @param requestFactory the requests to the owners (each one a {@link StreamingHttpOutputMessage})
	 * @param properties the Web MVC gateway's properties (its streaming media types and buffer size)
	 */
	public StreamingProxyExchange(HttpComponentsClientHttpRequestFactory requestFactory,
			GatewayMvcProperties properties) {
		super(properties);
		this.requestFactory = requestFactory;
	}

	@Override
	public ServerResponse exchange(Request request) {
		URI uri = Objects.requireNonNull(request.getUri(), "uri is required");
		try {
			ClientHttpRequest clientRequest = this.requestFactory.createRequest(uri, request.getMethod());
			clientRequest.getHeaders().putAll(request.getHeaders());
			ServletInputStream body = request.getServerRequest().servletRequest().getInputStream();
			if (!body.isFinished()) {
				((StreamingHttpOutputMessage) clientRequest).setBody((out) -> StreamUtils.copy(body, out));
			}
			return answer(request, clientRequest.execute());
		}
		catch (IOException ex) {
			throw new UncheckedIOException(ex);
		}
	}

	// The owner's answer as the gateway's exchanges leave it: its body in the request's attribute for the filters,
	// copied to the client when the response is written, and the response consumers run on its status and headers.
	private ServerResponse answer(Request request, ClientHttpResponse response) throws IOException {
		MvcUtils.putAttribute(request.getServerRequest(), MvcUtils.CLIENT_RESPONSE_INPUT_STREAM_ATTR,
				response.getBody());
		MvcUtils.putAttribute(request.getServerRequest(), MvcUtils.CLIENT_RESPONSE_ATTR, response);
		ServerResponse relayed = GatewayServerResponse.status(response.getStatusCode()).build((req, servletResponse) -> {
			// Read from the attribute again: a filter may have replaced the body.
			InputStream body = MvcUtils.getAttribute(request.getServerRequest(),
					MvcUtils.CLIENT_RESPONSE_INPUT_STREAM_ATTR);
			Objects.requireNonNull(body, "the owner's body is gone from the request's attributes");
			IOException failed = null;
			try {
				copyResponseBody(response, body, servletResponse.getOutputStream());
			}
			catch (IOException ex) {
				failed = ex;
				throw ex;
			}
			finally {
				closeResponse(response, body, failed);
			}
			return null;
		});
		ProxyExchange.Response owners = new OwnersResponse(response);
		for (ProxyExchange.ResponseConsumer consumer : request.getResponseConsumers()) {
			consumer.accept(owners, relayed);
		}
		return relayed;
	}

	/** The owner's status and headers, as the response consumers see them. */
	private record OwnersResponse(ClientHttpResponse response) implements ProxyExchange.Response {

		@Override
		public HttpStatusCode getStatusCode() {
			try {
				return this.response.getStatusCode();
			}
			catch (IOException ex) {
				throw new UncheckedIOException(ex);
			}
		}

		@Override
		public HttpHeaders getHeaders() {
			return this.response.getHeaders();
		}

	}

}
