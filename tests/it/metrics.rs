//! Confusion matrix and classification report (src/metrics.rs) against numbers worked out by
//! hand, and scikit-learn's documented `classification_report` example.

use gpunn::metrics::{format_matrix, format_report, ClassReport, ConfusionMatrix};

#[track_caller]
fn close(what: &str, got: f64, want: f64) {
    assert!((got - want).abs() < 1e-12, "{what}: got {got}, want {want}");
}

#[track_caller]
fn close_report(what: &str, got: &ClassReport, p: f64, r: f64, f1: f64, support: u64) {
    close(&format!("{what} precision"), got.precision, p);
    close(&format!("{what} recall"), got.recall, r);
    close(&format!("{what} f1"), got.f1, f1);
    assert_eq!(got.support, support, "{what} support");
}

fn names(n: &[&str]) -> Vec<String> {
    n.iter().map(|s| s.to_string()).collect()
}

#[test]
fn metrics_hand_worked_three_classes() {
    // true:      0 0 0 0 1 1 1 2 2 2   (supports 4, 3, 3)
    // predicted: 0 0 1 2 1 1 0 2 2 1
    let labels = [0, 0, 0, 0, 1, 1, 1, 2, 2, 2];
    let preds = [0, 0, 1, 2, 1, 1, 0, 2, 2, 1];
    let cm = ConfusionMatrix::new(3, &labels, &preds);
    // Rows true, columns predicted:
    //        p0 p1 p2 | row sum
    //   t0    2  1  1 | 4
    //   t1    1  2  0 | 3
    //   t2    0  1  2 | 3
    //   col   3  4  3 | 10
    assert_eq!(cm.counts, vec![vec![2, 1, 1], vec![1, 2, 0], vec![0, 1, 2]]);
    assert_eq!(cm.total(), 10);
    assert_eq!(cm.skipped, 0);
    // accuracy = trace / total = (2+2+2)/10
    close("accuracy", cm.accuracy(), 0.6);

    let r = cm.report();
    // class 0: P = 2/3 (col 3), R = 2/4 (row 4), F1 = 2·2/(4+3) = 4/7
    close_report("class 0", &r.per_class[0], 2.0 / 3.0, 0.5, 4.0 / 7.0, 4);
    // class 1: P = 2/4, R = 2/3, F1 = 4/(3+4) = 4/7
    close_report("class 1", &r.per_class[1], 0.5, 2.0 / 3.0, 4.0 / 7.0, 3);
    // class 2: P = 2/3, R = 2/3, F1 = 4/(3+3) = 2/3
    close_report(
        "class 2",
        &r.per_class[2],
        2.0 / 3.0,
        2.0 / 3.0,
        2.0 / 3.0,
        3,
    );
    // macro P = (2/3 + 1/2 + 2/3)/3 = (11/6)/3 = 11/18; macro R likewise = 11/18
    // macro F1 = (4/7 + 4/7 + 2/3)/3 = (24/21 + 14/21)/3 = 38/63
    close_report(
        "macro",
        &r.macro_avg,
        11.0 / 18.0,
        11.0 / 18.0,
        38.0 / 63.0,
        10,
    );
    // weighted P = (4·2/3 + 3·1/2 + 3·2/3)/10 = (16/6 + 9/6 + 12/6)/10 = 37/60
    // weighted R = (4·1/2 + 3·2/3 + 3·2/3)/10 = 6/10 (always the accuracy)
    // weighted F1 = (4·4/7 + 3·4/7 + 3·2/3)/10 = (4 + 2)/10 = 0.6
    close_report("weighted", &r.weighted_avg, 37.0 / 60.0, 0.6, 0.6, 10);
    close("report accuracy", r.accuracy, 0.6);
}

#[test]
fn metrics_sklearn_documented_example() {
    // scikit-learn's classification_report docstring example.
    let cm = ConfusionMatrix::new(3, &[0, 1, 2, 2, 2], &[0, 0, 2, 2, 1]);
    assert_eq!(cm.counts, vec![vec![1, 0, 0], vec![1, 0, 0], vec![0, 1, 2]]);
    let r = cm.report();
    close_report("class 0", &r.per_class[0], 0.5, 1.0, 2.0 / 3.0, 1);
    close_report("class 1", &r.per_class[1], 0.0, 0.0, 0.0, 1);
    close_report("class 2", &r.per_class[2], 1.0, 2.0 / 3.0, 0.8, 3);
    // macro R = (1 + 0 + 2/3)/3 = 5/9 = 0.556; macro F1 = (2/3 + 0 + 4/5)/3 = 22/45 = 0.489
    close_report("macro", &r.macro_avg, 0.5, 5.0 / 9.0, 22.0 / 45.0, 5);
    // weighted P = (0.5 + 0 + 3·1)/5 = 0.7; weighted F1 = (2/3 + 0 + 3·0.8)/5 = 46/75 = 0.613
    close_report("weighted", &r.weighted_avg, 0.7, 0.6, 46.0 / 75.0, 5);
    close("accuracy", r.accuracy, 0.6);

    // The same layout as scikit-learn's table (digits=4).
    let text = format_report(&r, &names(&["class 0", "class 1", "class 2"]));
    // (The first line starts with spaces, which a `\` line continuation would swallow.)
    let want = concat!(
        "              precision    recall  f1-score   support\n",
        "
     class 0     0.5000    1.0000    0.6667         1
     class 1     0.0000    0.0000    0.0000         1
     class 2     1.0000    0.6667    0.8000         3

    accuracy                         0.6000         5
   macro avg     0.5000    0.5556    0.4889         5
weighted avg     0.7000    0.6000    0.6133         5
"
    );
    assert_eq!(text, want, "\n{text}");
}

#[test]
fn metrics_class_never_predicted_scores_zero() {
    // true 0 1 1 2, predicted 0 0 0 2: class 1 is never predicted.
    let cm = ConfusionMatrix::new(3, &[0, 1, 1, 2], &[0, 0, 0, 2]);
    let r = cm.report();
    // class 0: tp 1, predicted 3 → P 1/3, R 1/1, F1 2/(1+3) = 1/2
    close_report("class 0", &r.per_class[0], 1.0 / 3.0, 1.0, 0.5, 1);
    // class 1: tp 0, predicted 0 → P 0 (zero_division=0), R 0/2, F1 0
    close_report("class 1", &r.per_class[1], 0.0, 0.0, 0.0, 2);
    close_report("class 2", &r.per_class[2], 1.0, 1.0, 1.0, 1);
    // macro P = (1/3 + 0 + 1)/3 = 4/9, R = (1 + 0 + 1)/3 = 2/3, F1 = (1/2 + 0 + 1)/3 = 1/2
    close_report("macro", &r.macro_avg, 4.0 / 9.0, 2.0 / 3.0, 0.5, 4);
    for v in [
        r.macro_avg.precision,
        r.macro_avg.recall,
        r.macro_avg.f1,
        r.weighted_avg.f1,
    ] {
        assert!(v.is_finite());
    }
}

#[test]
fn metrics_absent_class_is_left_out_of_macro_average() {
    // Class 3 exists in the model but is neither a label nor a prediction here.
    let labels = [0, 1, 2, 2, 2];
    let preds = [0, 0, 2, 2, 1];
    let three = ConfusionMatrix::new(3, &labels, &preds).report();
    let four = ConfusionMatrix::new(4, &labels, &preds).report();
    assert_eq!(four.per_class.len(), 4);
    close_report("absent class", &four.per_class[3], 0.0, 0.0, 0.0, 0);
    assert_eq!(three.macro_avg, four.macro_avg);
    assert_eq!(three.weighted_avg, four.weighted_avg);
}

#[test]
fn metrics_rows_are_true_columns_are_predicted() {
    // Every sample of class 0 was predicted as class 2.
    let cm = ConfusionMatrix::new(3, &[0, 0, 0], &[2, 2, 2]);
    assert_eq!(cm.counts[0][2], 3, "counts[true][predicted]");
    assert_eq!(cm.counts[2][0], 0);
    let r = cm.report();
    assert_eq!(r.per_class[0].support, 3);
    assert_eq!(r.per_class[2].support, 0);
    close("accuracy", r.accuracy, 0.0);

    let text = format_matrix(&cm, &names(&["zero", "one", "two"]));
    let want = "\
true \\ pred    zero     one     two
       zero       0       0       3
        one       0       0       0
        two       0       0       0
";
    assert_eq!(text, want, "\n{text}");
}

#[test]
fn metrics_matrix_stays_aligned_for_six_digit_counts() {
    let mut labels = vec![0u32; 123_456];
    let mut preds = vec![0u32; 123_456];
    labels.extend([1, 1, 9]);
    preds.extend([0, 1, 9]);
    let cm = ConfusionMatrix::new(10, &labels, &preds);
    let text = format_matrix(&cm, &[]);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 11, "\n{text}");
    let width = lines[0].len();
    assert!(
        lines.iter().all(|l| l.len() == width),
        "ragged table:\n{text}"
    );
    // Name column as wide as "true \\ pred", then columns 6 wide, two spaces apart.
    let row0 = format!("{:>11}  123456{}", "0", "       0".repeat(9));
    assert_eq!(lines[1], row0, "\n{text}");
    let row1 = format!(
        "{:>11}{}{}",
        "1",
        "       1".repeat(2),
        "       0".repeat(8)
    );
    assert_eq!(lines[2], row1, "\n{text}");
    assert!(lines[10].ends_with("       1"), "\n{text}");
}

#[test]
fn metrics_out_of_range_and_mismatched_input_never_panic() {
    // Label 5 and prediction 7 are outside 3 classes; the pair lengths differ by one.
    let cm = ConfusionMatrix::new(3, &[0, 5, 1, 2, 2], &[0, 0, 7, 2]);
    assert_eq!(cm.total(), 2);
    assert_eq!(cm.skipped, 3);
    close("accuracy", cm.accuracy(), 1.0);

    // Nothing at all.
    let empty = ConfusionMatrix::new(0, &[], &[]);
    assert_eq!(empty.total(), 0);
    close("empty accuracy", empty.accuracy(), 0.0);
    let r = empty.report();
    assert!(r.per_class.is_empty());
    close_report("empty macro", &r.macro_avg, 0.0, 0.0, 0.0, 0);
    close_report("empty weighted", &r.weighted_avg, 0.0, 0.0, 0.0, 0);
    let _ = format_report(&r, &[]);
    let _ = format_matrix(&empty, &[]);

    // Classes but no samples.
    let r = ConfusionMatrix::new(2, &[], &[]).report();
    close_report("no samples", &r.macro_avg, 0.0, 0.0, 0.0, 0);
}

#[test]
fn metrics_report_names_fall_back_to_class_numbers() {
    let r = ConfusionMatrix::new(3, &[0, 1, 2], &[0, 1, 2]).report();
    let text = format_report(&r, &names(&["zero"]));
    let rows: Vec<&str> = text.lines().collect();
    assert!(rows[2].trim_start().starts_with("zero "), "\n{text}");
    assert!(rows[3].trim_start().starts_with("1 "), "\n{text}");
    assert!(rows[4].trim_start().starts_with("2 "), "\n{text}");
    assert!(
        text.contains("    accuracy                         1.0000         3"),
        "\n{text}"
    );
}
