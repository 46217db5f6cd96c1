package io.mcp.affinity.web.servlet;

import java.util.function.Supplier;

import org.apache.hc.client5.http.classic.HttpClient;
import org.apache.hc.core5.concurrent.Cancellable;
import org.apache.hc.core5.http.ClassicHttpRequest;
import org.jspecify.annotations.Nullable;
import org.springframework.http.client.HttpComponentsClientHttpRequestFactory;

/**
 * Spring's request factory for Apache HttpClient 5 (classic: the calling thread does the I/O, no hand-over between
 * threads), which also hands each request it creates to whoever is forwarding on that thread, so the forward can abort
 * it from another thread. Aborting is the only way to end a blocking read (an interrupt does not), and closing the
 * response would first read the rest of the body, which never ends on an open SSE stream.
 */
public final class AbortableRequestFactory extends HttpComponentsClientHttpRequestFactory {

	private final ThreadLocal<Abort> current = new ThreadLocal<>();

	/**
	 * Creates the factory.
	 * @param httpClient the client
	 */
	public AbortableRequestFactory(HttpClient httpClient) {
		super(httpClient);
	}

	/**
	 * Runs a forward whose request, once created, the given handle can abort.
	 * @param <T> the forward's result
	 * @param abort receives the request
	 * @param forward the forward, which creates its request on this thread
	 * @return the forward's result
	 */
	<T> T forwarding(Abort abort, Supplier<T> forward) {
		this.current.set(abort);
		try {
			return forward.get();
		}
		finally {
			this.current.remove();
		}
	}

	@Override
	protected void postProcessHttpRequest(ClassicHttpRequest request) {
		Abort abort = this.current.get();
		if (abort != null && request instanceof Cancellable cancellable) {
			abort.set(cancellable);
		}
	}

	/** Aborts one forward's request: ends its wait for headers, or its streamed body. */
	static final class Abort {

		private @Nullable Cancellable request;

		private boolean aborted;

		synchronized void set(Cancellable request) {
			this.request = request;
			if (this.aborted) {
				request.cancel();
			}
		}

		synchronized void abort() {
			this.aborted = true;
			if (this.request != null) {
				this.request.cancel();
			}
		}

	}

}
