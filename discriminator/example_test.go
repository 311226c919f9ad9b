package discriminator_test

import (
	"fmt"
	"math"

	"promptgan/discriminator"
)

func ExampleBCE() {
	grad := make([]float32, 1)
	loss := discriminator.BCE([]float32{0}, 1, 1, grad)
	fmt.Printf("loss %.4f (= log 2), grad %.2f\n", loss, grad[0])
	fmt.Println(math.Abs(loss-math.Ln2) < 1e-12)
	// Output:
	// loss 0.6931 (= log 2), grad -0.50
	// true
}

func ExampleLoss() {
	// One real and one fake sequence of two positions each, D unsure of all.
	z := []float32{0, 0, 0, 0}
	grad := make([]float32, len(z))
	loss, verdicts := discriminator.Loss(z, 2, discriminator.GANSets(1, 1, 0, 0, 0.5), grad)
	fmt.Printf("L_D %.4f (= 2 log 2), D(real) %.2f, D(fake) %.2f\n", loss, verdicts[0], verdicts[1])
	// Output:
	// L_D 1.3863 (= 2 log 2), D(real) 0.50, D(fake) 0.50
}
