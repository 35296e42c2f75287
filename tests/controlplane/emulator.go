// The node emulator stands in for kube-scheduler and the kubelets: it registers Ready Nodes, binds each
// unscheduled Pod to one of them, reports bound Pods Running and Ready with a pod IP, and finishes the
// deletion of terminating Pods (what a kubelet does once containers have stopped). Nothing runs.
// Every Node's address is 127.0.0.1 and its kubelet port is the emulator's own log endpoint, so
// `kubectl logs` (the apiserver dialling the kubelet) stays on loopback and gets a few lines back.
package main

import (
	"context"
	"fmt"
	"log"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"
)

func nodeName(i int) string { return fmt.Sprintf("node-%d", i+1) }

// serveKubeletLogs answers the apiserver's /containerLogs/NS/POD/CONTAINER requests on 127.0.0.1 over TLS
// (the apiserver does not verify kubelet certificates unless told to) and returns the port.
func serveKubeletLogs(certFile, keyFile string) (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/containerLogs/", func(w http.ResponseWriter, r *http.Request) {
		parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/containerLogs/"), "/")
		for i := 0; i < 3; i++ {
			fmt.Fprintf(w, "{\"level\":\"INFO\",\"msg\":\"emulated log line %d\",\"pod\":%q}\n", i+1, strings.Join(parts, "/"))
		}
	})
	go http.ServeTLS(l, mux, certFile, keyFile)
	return l.Addr().(*net.TCPAddr).Port, nil
}

func registerNodes(ctx context.Context, client kubernetes.Interface, n, kubeletPort int) error {
	for i := 0; i < n; i++ {
		node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: nodeName(i), Labels: map[string]string{
			"kubernetes.io/hostname": nodeName(i), "kubernetes.io/os": "linux", "type": "canary-emulated"}}}
		node, err := client.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{})
		if err != nil && !apierrors.IsAlreadyExists(err) {
			return err
		}
		if err != nil {
			if node, err = client.CoreV1().Nodes().Get(ctx, nodeName(i), metav1.GetOptions{}); err != nil {
				return err
			}
		}
		capacity := corev1.ResourceList{
			corev1.ResourceCPU: resource.MustParse("32"), corev1.ResourceMemory: resource.MustParse("64Gi"),
			corev1.ResourcePods: resource.MustParse("110"),
		}
		now := metav1.Now()
		node.Status = corev1.NodeStatus{
			Capacity: capacity, Allocatable: capacity, Phase: corev1.NodeRunning,
			Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue,
				Reason: "KubeletReady", Message: "emulated by canary-controlplane", LastHeartbeatTime: now, LastTransitionTime: now}},
			Addresses:       []corev1.NodeAddress{{Type: corev1.NodeInternalIP, Address: "127.0.0.1"}},
			DaemonEndpoints: corev1.NodeDaemonEndpoints{KubeletEndpoint: corev1.DaemonEndpoint{Port: int32(kubeletPort)}},
			NodeInfo:        corev1.NodeSystemInfo{KubeletVersion: "v1.36.3-emulated", OperatingSystem: "linux", Architecture: "amd64"},
		}
		if _, err := client.CoreV1().Nodes().UpdateStatus(ctx, node, metav1.UpdateOptions{}); err != nil {
			return err
		}
	}
	return nil
}

type emulator struct {
	client kubernetes.Interface
	nodes  int
	mu     sync.Mutex
	next   int // round-robin node and pod-IP counter
}

// runEmulator watches every Pod and moves each one step closer to Running/Ready or gone. A failed step
// is retried on the informer's next resync (every 2 s).
func runEmulator(ctx context.Context, client kubernetes.Interface) {
	nodes, err := client.CoreV1().Nodes().List(ctx, metav1.ListOptions{LabelSelector: "type=canary-emulated"})
	if err != nil || len(nodes.Items) == 0 {
		log.Printf("emulator: no nodes: %v", err)
		return
	}
	e := &emulator{client: client, nodes: len(nodes.Items)}
	factory := informers.NewSharedInformerFactory(client, 2*time.Second)
	podInformer := factory.Core().V1().Pods().Informer()
	handle := func(obj any) {
		if pod, ok := obj.(*corev1.Pod); ok {
			e.step(ctx, pod)
		}
	}
	podInformer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    handle,
		UpdateFunc: func(_, obj any) { handle(obj) },
	})
	factory.Start(ctx.Done())
	<-ctx.Done()
	factory.Shutdown()
}

func (e *emulator) step(ctx context.Context, pod *corev1.Pod) {
	pods := e.client.CoreV1().Pods(pod.Namespace)
	var err error
	switch {
	case pod.DeletionTimestamp != nil:
		// The containers "stopped": remove the Pod for good (what the kubelet does after its grace period).
		zero := int64(0)
		err = pods.Delete(ctx, pod.Name, metav1.DeleteOptions{GracePeriodSeconds: &zero,
			Preconditions: &metav1.Preconditions{UID: &pod.UID}})
		if apierrors.IsNotFound(err) || apierrors.IsConflict(err) {
			err = nil
		}
	case pod.Spec.NodeName == "":
		e.mu.Lock()
		node := nodeName(e.next % e.nodes)
		e.next++
		e.mu.Unlock()
		err = pods.Bind(ctx, &corev1.Binding{ObjectMeta: metav1.ObjectMeta{Name: pod.Name, UID: pod.UID},
			Target: corev1.ObjectReference{Kind: "Node", Name: node}}, metav1.CreateOptions{})
		if apierrors.IsConflict(err) { // already bound by an earlier try
			err = nil
		}
	case pod.Status.Phase != corev1.PodRunning || !podReady(pod):
		err = e.markRunning(ctx, pod)
	}
	if err != nil && ctx.Err() == nil {
		log.Printf("emulator: pod %s/%s: %v", pod.Namespace, pod.Name, err)
	}
}

func podReady(pod *corev1.Pod) bool {
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func (e *emulator) markRunning(ctx context.Context, pod *corev1.Pod) error {
	pod = pod.DeepCopy()
	now := metav1.Now()
	e.mu.Lock()
	n := e.next
	e.next++
	e.mu.Unlock()
	if pod.Status.PodIP == "" {
		ip := fmt.Sprintf("10.244.%d.%d", (n/250)%250, n%250+2)
		pod.Status.PodIP, pod.Status.PodIPs = ip, []corev1.PodIP{{IP: ip}}
	}
	pod.Status.Phase, pod.Status.HostIP = corev1.PodRunning, "127.0.0.1"
	pod.Status.StartTime = &now
	pod.Status.Conditions = nil
	for _, t := range []corev1.PodConditionType{corev1.PodScheduled, corev1.PodInitialized, corev1.ContainersReady, corev1.PodReady} {
		pod.Status.Conditions = append(pod.Status.Conditions,
			corev1.PodCondition{Type: t, Status: corev1.ConditionTrue, LastTransitionTime: now})
	}
	pod.Status.ContainerStatuses = nil
	started := true
	for _, c := range pod.Spec.Containers {
		pod.Status.ContainerStatuses = append(pod.Status.ContainerStatuses, corev1.ContainerStatus{
			Name: c.Name, Image: c.Image, ImageID: "emulated://" + c.Image, ContainerID: "emulated://" + string(pod.UID) + "/" + c.Name,
			Ready: true, Started: &started, State: corev1.ContainerState{Running: &corev1.ContainerStateRunning{StartedAt: now}},
		})
	}
	_, err := e.client.CoreV1().Pods(pod.Namespace).UpdateStatus(ctx, pod, metav1.UpdateOptions{})
	if apierrors.IsConflict(err) || apierrors.IsNotFound(err) {
		return nil // a newer version is on its way to the informer
	}
	return err
}
